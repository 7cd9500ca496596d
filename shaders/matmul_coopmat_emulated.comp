// matmul_coopmat.comp's tiling with its 16x16x16 tile products as scalar loops: the staging,
// indexing and epilogue of the cooperative-matrix GEMM, run where the extension is absent
// (VKGRAD_COOPMAT=emulate), so that they are tested on every device.
// bindings: 0 C (B, M, N), 1 A, 2 B; push batch, M, N, K, sa/sb (batch strides of A/B, 0: broadcast), ta, tb
// vkgrad: zero fill
#version 450
#extension GL_GOOGLE_include_directive : require
#define COOPMAT_EMULATE 1
#include "matmul_coopmat.glsl"
