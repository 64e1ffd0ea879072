"""The composed equation: builder, printers, collapse, Taylor polynomials and growth."""
