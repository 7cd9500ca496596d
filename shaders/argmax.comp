// y[m] = the first k where x[m, k] is largest (NaN counts as largest); int32 output
// bindings: 0 out int32 (M,), 1 x (M, K); see argbest.glsl
#version 450
#extension GL_GOOGLE_include_directive : require
#define BETTER(a, b) ((a) > (b))
#include "argbest.glsl"
