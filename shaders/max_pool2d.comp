// y[n, c, o] = x[n, c].flat[idx[n, c, o]] (-inf where idx < 0)
// bindings: 0 y (N, C, Ho, Wo), 1 x (N, C, H, W), 2 idx int32 (N, C, Ho, Wo)
#version 450
#extension GL_GOOGLE_include_directive : require
#include "window.glsl"

float compute(uint i) {
    int k = int(Y(i));
    if (k < 0) return -INF;
    return X((i / (HO * WO)) * H_ * W_ + uint(k));
}
