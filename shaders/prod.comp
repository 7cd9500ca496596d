// y[m] = prod_k x[m, k] (1 for K = 0)
// bindings: 0 out (M,), 1 x (M, K); see reduce.glsl
// vkgrad: loops rows 1
#version 450
#extension GL_GOOGLE_include_directive : require
#define RED_INIT 1.0
#define RED(a, b) ((a) * (b))
#include "reduce.glsl"
