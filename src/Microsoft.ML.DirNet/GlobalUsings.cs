// The library has its own Tensor type; importing System.Numerics.Tensors would make `Tensor` ambiguous, so only its
// SIMD primitives are brought in, by alias.
global using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
