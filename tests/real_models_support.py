"""Small copies of the architectures of public Keras examples, with random weights.

Each builder returns a built model and one sample input per model input; nothing is downloaded.
`tests/test_real_models.py` saves each to `.keras`, loads it back and checks the generator on it.
"""

from __future__ import annotations

import keras
import numpy as np

L = keras.layers


def randomize(model: keras.Model, seed: int = 0, scale: float = 0.3) -> keras.Model:
    """Every weight random (biases, statistics and all), so nothing checks out by accident."""
    rng = np.random.default_rng(seed)
    for weight in model.weights:
        if "int" in str(weight.dtype):
            continue  # a counter, such as Normalization's
        shape = tuple(weight.shape)
        if "variance" in weight.path:
            value = rng.uniform(0.5, 1.5, shape)
        else:
            value = rng.normal(0, scale, shape)
        weight.assign(value.astype(weight.dtype))
    return model


def _normal(shape: tuple, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).normal(0, 1, (2, *shape)).astype("float32")


def _tokens(shape: tuple, vocabulary: int, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, vocabulary, (2, *shape)).astype("int32")


def xception_small():
    """Image classification from scratch: entry flow, residual separable blocks."""
    inputs = keras.Input((16, 16, 3), name="image")
    x = L.Rescaling(1.0 / 255)(inputs)
    x = L.Conv2D(8, 3, strides=2, padding="same")(x)
    x = L.BatchNormalization()(x)
    x = L.Activation("relu")(x)
    previous = x
    for size in (8, 16):
        x = L.Activation("relu")(x)
        x = L.SeparableConv2D(size, 3, padding="same")(x)
        x = L.BatchNormalization()(x)
        x = L.Activation("relu")(x)
        x = L.SeparableConv2D(size, 3, padding="same")(x)
        x = L.BatchNormalization()(x)
        x = L.MaxPooling2D(3, strides=2, padding="same")(x)
        residual = L.Conv2D(size, 1, strides=2, padding="same")(previous)
        x = L.add([x, residual])
        previous = x
    x = L.SeparableConv2D(16, 3, padding="same")(x)
    x = L.BatchNormalization()(x)
    x = L.Activation("relu")(x)
    x = L.GlobalAveragePooling2D()(x)
    x = L.Dropout(0.25)(x)
    outputs = L.Dense(1)(x)
    return keras.Model(inputs, outputs, name="xception_small"), [_normal((16, 16, 3)) * 255]


def unet_small():
    """Image segmentation with a U-Net-like architecture (residual down and up blocks)."""
    inputs = keras.Input((16, 16, 3), name="image")
    x = L.Conv2D(8, 3, strides=2, padding="same")(inputs)
    x = L.BatchNormalization()(x)
    x = L.Activation("relu")(x)
    previous = x
    x = L.Activation("relu")(x)
    x = L.SeparableConv2D(16, 3, padding="same")(x)
    x = L.BatchNormalization()(x)
    x = L.MaxPooling2D(3, strides=2, padding="same")(x)
    residual = L.Conv2D(16, 1, strides=2, padding="same")(previous)
    x = L.add([x, residual])
    previous = x
    for size in (16, 8):
        x = L.Activation("relu")(x)
        x = L.Conv2DTranspose(size, 3, padding="same")(x)
        x = L.BatchNormalization()(x)
        x = L.UpSampling2D(2)(x)
        residual = L.UpSampling2D(2)(previous)
        residual = L.Conv2D(size, 1, padding="same")(residual)
        x = L.add([x, residual])
        previous = x
    outputs = L.Conv2D(3, 3, activation="softmax", padding="same")(x)
    return keras.Model(inputs, outputs, name="unet_small"), [_normal((16, 16, 3))]


def seq2seq():
    """Character-level sequence to sequence: the decoder starts from the encoder's states."""
    encoder_inputs = keras.Input((5, 6), name="encoder_inputs")
    _, state_h, state_c = L.LSTM(8, return_state=True, name="encoder")(encoder_inputs)
    decoder_inputs = keras.Input((4, 7), name="decoder_inputs")
    x = L.LSTM(8, return_sequences=True, name="decoder")(
        decoder_inputs, initial_state=[state_h, state_c]
    )
    outputs = L.Dense(7, activation="softmax", name="decoder_dense")(x)
    model = keras.Model([encoder_inputs, decoder_inputs], outputs, name="seq2seq")
    return model, [_normal((5, 6)), _normal((4, 7), seed=2)]


def transformer_classifier():
    """Text classification with a Transformer block; positions from `keras.ops` (functional)."""
    maxlen, vocabulary, dim = 6, 20, 8
    tokens = keras.Input((maxlen,), dtype="int32", name="tokens")
    positions = keras.ops.cumsum(keras.ops.ones_like(tokens), axis=-1) - 1
    x = L.Embedding(vocabulary, dim, name="token_emb")(tokens)
    x = x + L.Embedding(maxlen, dim, name="pos_emb")(positions)
    attention = L.MultiHeadAttention(num_heads=2, key_dim=dim, name="attention")(x, x)
    x = L.LayerNormalization(epsilon=1e-6, name="norm_1")(x + L.Dropout(0.1)(attention))
    ffn = L.Dense(16, activation="relu", name="ffn_1")(x)
    ffn = L.Dense(dim, name="ffn_2")(ffn)
    x = L.LayerNormalization(epsilon=1e-6, name="norm_2")(x + L.Dropout(0.1)(ffn))
    x = L.GlobalAveragePooling1D()(x)
    x = L.Dropout(0.1)(x)
    x = L.Dense(8, activation="relu")(x)
    outputs = L.Dense(2, activation="softmax")(x)
    model = keras.Model(tokens, outputs, name="transformer_classifier")
    return model, [_tokens((maxlen,), vocabulary)]


STRUCTURED_NUMERIC = ("age", "trestbps", "chol", "thalach", "oldpeak", "slope")
STRUCTURED_CATEGORICAL = {"sex": 2, "cp": 5, "fbs": 2, "restecg": 3, "exang": 2, "ca": 4, "thal": 8}


def structured_13_inputs():
    """Structured data classification from scratch: 13 inputs, encoded one by one."""
    rng = np.random.default_rng(3)
    inputs, encoded, samples = [], [], []
    for name in STRUCTURED_NUMERIC:
        x = keras.Input((1,), name=name)
        normalizer = L.Normalization(name=f"{name}_norm")
        normalizer.adapt(rng.normal(50, 10, (32, 1)).astype("float32"))
        inputs.append(x)
        encoded.append(normalizer(x))
        samples.append(rng.normal(50, 10, (2, 1)).astype("float32"))
    for name, tokens in STRUCTURED_CATEGORICAL.items():
        x = keras.Input((1,), dtype="int32", name=name)
        inputs.append(x)
        encoded.append(L.CategoryEncoding(tokens, output_mode="one_hot", name=f"{name}_enc")(x))
        samples.append(rng.integers(0, tokens, (2, 1)).astype("int32"))
    x = L.concatenate(encoded)
    x = L.Dense(8, activation="relu")(x)
    x = L.Dropout(0.5)(x)
    outputs = L.Dense(1, activation="sigmoid")(x)
    return keras.Model(inputs, outputs, name="structured_13"), samples


def mlp_mixer():
    """MLP-Mixer: one LayerNormalization shared by the token and the channel mixing."""
    inputs = keras.Input((8, 8, 3), name="image")
    x = L.Conv2D(8, 4, strides=4, name="patches")(inputs)  # 2 x 2 patches, 8 channels
    x = L.Reshape((4, 8))(x)
    norm = L.LayerNormalization(epsilon=1e-6, name="layer_norm")
    y = norm(x)
    y = L.Permute((2, 1))(y)
    y = L.Dense(4, activation="gelu", name="token_mixing")(y)
    y = L.Permute((2, 1))(y)
    x = L.Add()([x, y])
    y = norm(x)
    y = L.Dense(8, activation="gelu", name="channel_mixing")(y)
    x = L.Add()([x, y])
    x = L.GlobalAveragePooling1D()(x)
    outputs = L.Dense(3, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="mlp_mixer"), [_normal((8, 8, 3))]


def conv_lstm():
    """Next-frame prediction with ConvLSTM2D."""
    inputs = keras.Input((3, 6, 6, 1), name="frames")
    x = L.ConvLSTM2D(4, 3, padding="same", return_sequences=True)(inputs)
    x = L.BatchNormalization()(x)
    outputs = L.Conv3D(1, 3, activation="sigmoid", padding="same")(x)
    return keras.Model(inputs, outputs, name="conv_lstm"), [_normal((3, 6, 6, 1))]


def dcgan_generator():
    inputs = keras.Input((8,), name="latent")
    x = L.Dense(4 * 4 * 8)(inputs)
    x = L.Reshape((4, 4, 8))(x)
    x = L.Conv2DTranspose(8, 4, strides=2, padding="same")(x)
    x = L.LeakyReLU(negative_slope=0.2)(x)
    outputs = L.Conv2D(3, 5, padding="same", activation="sigmoid")(x)
    return keras.Model(inputs, outputs, name="generator"), [_normal((8,))]


def dcgan_discriminator():
    inputs = keras.Input((8, 8, 3), name="image")
    x = L.Conv2D(8, 4, strides=2, padding="same")(inputs)
    x = L.LeakyReLU(negative_slope=0.2)(x)
    x = L.Conv2D(16, 4, strides=2, padding="same")(x)
    x = L.LeakyReLU(negative_slope=0.2)(x)
    x = L.Flatten()(x)
    x = L.Dropout(0.2)(x)
    outputs = L.Dense(1, activation="sigmoid")(x)
    return keras.Model(inputs, outputs, name="discriminator"), [_normal((8, 8, 3))]


def vae_encoder():
    """The VAE's encoder up to the mean and log-variance (sampling is random: not compared)."""
    inputs = keras.Input((8, 8, 1), name="image")
    x = L.Conv2D(4, 3, activation="relu", strides=2, padding="same")(inputs)
    x = L.Conv2D(8, 3, activation="relu", strides=2, padding="same")(x)
    x = L.Flatten()(x)
    x = L.Dense(8, activation="relu")(x)
    z_mean = L.Dense(2, name="z_mean")(x)
    z_log_var = L.Dense(2, name="z_log_var")(x)
    return keras.Model(inputs, [z_mean, z_log_var], name="encoder"), [_normal((8, 8, 1))]


def preprocessing_nested():
    """A nested Sequential of preprocessing layers: Resizing and a scalar Normalization."""
    inputs = keras.Input((10, 10, 3), name="image")
    normalization = L.Normalization(axis=None, name="scalar_norm")
    normalization.adapt(np.random.default_rng(4).normal(3, 2, (16, 10, 10, 3)).astype("float32"))
    preprocessing = keras.Sequential(
        [L.Resizing(8, 8, name="resize"), normalization], name="preprocessing"
    )
    x = preprocessing(inputs)
    x = L.Conv2D(4, 3, activation="relu")(x)
    x = L.GlobalAveragePooling2D()(x)
    outputs = L.Dense(2)(x)
    return keras.Model(inputs, outputs, name="preprocessed"), [_normal((10, 10, 3)) * 2 + 3]


def bidirectional_imdb():
    """The IMDB classifier: Embedding, Bidirectional(LSTM), Dense."""
    model = keras.Sequential(
        [
            keras.Input((7,), dtype="int32"),
            L.Embedding(30, 8),
            L.Bidirectional(L.LSTM(4, return_sequences=True)),
            L.Bidirectional(L.LSTM(4)),
            L.Dense(1, activation="sigmoid"),
        ],
        name="imdb_bilstm",
    )
    return model, [_tokens((7,), 30)]


def _mlp(name: str, units: tuple[int, ...], activation: str, normalize: bool = False):
    layers: list = [keras.Input((1,), name="x")]
    if normalize:
        normalizer = L.Normalization(axis=-1)
        normalizer.adapt(np.linspace(-3, 7, 40, dtype="float32").reshape(-1, 1))
        layers.append(normalizer)
    layers += [L.Dense(n, activation=activation) for n in units]
    layers.append(L.Dense(1))
    return keras.Sequential(layers, name=name), [_normal((1,))]


def mlp_sigmoid_50_30():
    return _mlp("mlp_sigmoid_50_30", (50, 30), "sigmoid")


def mlp_normalized_relu_64_64():
    return _mlp("mlp_norm_relu_64_64", (64, 64), "relu", normalize=True)


def mlp_relu_128_128():
    return _mlp("mlp_relu_128_128", (128, 128), "relu")


def mlp_tanh_10():
    return _mlp("mlp_tanh_10", (10,), "tanh")


#: Every architecture: (builder, translates to PyTorch).
ARCHITECTURES = {
    "xception": (xception_small, True),
    "unet": (unet_small, True),
    "seq2seq": (seq2seq, True),
    "transformer": (transformer_classifier, True),
    "structured": (structured_13_inputs, True),
    "mlp_mixer": (mlp_mixer, True),
    "conv_lstm": (conv_lstm, True),
    "dcgan_generator": (dcgan_generator, True),
    "dcgan_discriminator": (dcgan_discriminator, True),
    "vae_encoder": (vae_encoder, True),
    "preprocessing": (preprocessing_nested, True),
    "bidirectional": (bidirectional_imdb, True),
    "mlp_sigmoid_50_30": (mlp_sigmoid_50_30, True),
    "mlp_norm_relu_64_64": (mlp_normalized_relu_64_64, True),
    "mlp_relu_128_128": (mlp_relu_128_128, True),
    "mlp_tanh_10": (mlp_tanh_10, True),
}
MLPS = [name for name in ARCHITECTURES if name.startswith("mlp_") and name != "mlp_mixer"]

#: A custom layer's module, as a user would write it, for `--import`.
CUSTOM_LAYER_SOURCE = '''\
import keras


@keras.saving.register_keras_serializable(package="realmodels")
class Sampling(keras.layers.Layer):
    """Draws z from the mean and log-variance (the VAE's reparametrisation)."""

    def call(self, inputs):
        z_mean, z_log_var = inputs
        noise = keras.random.normal(keras.ops.shape(z_mean), seed=0)
        return z_mean + keras.ops.exp(0.5 * z_log_var) * noise
'''
