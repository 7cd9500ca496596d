// y[m, k] = product of x[m, j] for j <= k (j < k exclusive; j >= k / j > k reverse)
// bindings: 0 out (M, K), 1 x (M, K); attrs 0 reverse, 1 exclusive; see scan.glsl
// vkgrad: loops rows 10
#version 450
#extension GL_GOOGLE_include_directive : require
#define SCAN_PRODUCT
#define SCAN_INIT 1.0
#define SCAN_REVERSE (attr(0) != 0.0)
#define ELEM(i, col, j) vec2(X(i), 0.0)
#define EMIT(i, inc, exc) STORE(i, attr(1) != 0.0 ? (exc) : (inc))
#include "scan.glsl"
