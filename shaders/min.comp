// y[m] = min_k x[m, k] (NaN propagates; inf for K = 0)
// bindings: 0 out (M,), 1 x (M, K); see reduce.glsl
// vkgrad: loops rows 1
#version 450
#extension GL_GOOGLE_include_directive : require
#define RED_INIT (INF)
#define RED(a, b) ((isnan(a) || isnan(b)) ? (a) + (b) : min((a), (b)))
#include "reduce.glsl"
