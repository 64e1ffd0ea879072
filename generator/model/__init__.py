"""The model description: a Keras model as a framework-neutral graph, and how to load one."""
