// C[b] = op(A[b]) @ op(B[b]) on the matrix units (VK_KHR_cooperative_matrix): f16 A and B,
// f32 accumulation; the body is matmul_coopmat.glsl.
// bindings: 0 C (B, M, N), 1 A, 2 B; push batch, M, N, K, sa/sb (batch strides of A/B, 0: broadcast), ta, tb
// vkgrad: requires cooperativeMatrix
// vkgrad: glslang 13
// vkgrad: zero fill
#version 450
#extension GL_GOOGLE_include_directive : require
#include "matmul_coopmat.glsl"
