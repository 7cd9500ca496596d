// R of cumprod's gradient (gx = exclusive cumprod(x) * R), scanned against the cumprod:
// inclusive R_k = g_k + x_p R_p (p: the column scanned before k); exclusive R_k = U_p, U_k =
// g_k + x_k U_p. bindings: 0 out, 1 x, 2 g (M, K); attrs 0 reverse, 1 exclusive; scan.glsl
// vkgrad: loops rows 10
#version 450
#extension GL_GOOGLE_include_directive : require
#define SCAN_INIT 0.0
#define SCAN_REVERSE (attr(0) == 0.0)
#define PREV_COL(col) (SCAN_REVERSE ? (col) + 1u : (col) - 1u)
#define ELEM(i, col, j) vec2(attr(1) != 0.0 ? X(i) : ((j) > 0u ? X(base + PREV_COL(col)) : 1.0), Y(i))
#define EMIT(i, inc, exc) STORE(i, attr(1) != 0.0 ? (exc) : (inc))
#include "scan.glsl"
