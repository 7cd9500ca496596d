// matmul_coopmat.glsl: C[b] = op(A[b]) @ op(B[b]) in 16x16x16 cooperative-matrix tiles, f16
// operands and f32 accumulation. Same bindings, push constants, grid and output as
// matmul.comp, which runs instead on devices without VK_KHR_cooperative_matrix.
// Built with COOPMAT_EMULATE (matmul_coopmat_emulated.comp), the tile products run as scalar
// loops over the same shared-memory tiles, so the staging, indexing and epilogue run (and are
// tested) on devices without matrix units.
#extension GL_KHR_shader_subgroup_basic : require
#ifndef COOPMAT_EMULATE
#extension GL_KHR_cooperative_matrix : require
// The Vulkan memory model that glslang's cooperative-matrix SPIR-V declares (vkgrad enables
// VK_KHR_vulkan_memory_model with the extension).
#extension GL_KHR_memory_scope_semantics : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#endif
// 128 invocations: four subgroups of 32 (NVIDIA; AMD in wave32), one 16-row strip each.
// Other subgroup sizes stay correct: a subgroup takes strips sg, sg + nsg, ... in passes.
#define WG 128
#include "common.glsl"

layout(push_constant) uniform PC { uint batch; uint M; uint N; uint K; uint sa; uint sb; uint ta; uint tb; } pc;

layout(std430, binding = 0) buffer Cb { uint c_[]; };
F16_VIEW(0, c_)
layout(std430, binding = 1) buffer Ab { uint a_[]; };
F16_VIEW(1, a_)
layout(std430, binding = 2) buffer Bb { uint b_[]; };
F16_VIEW(2, b_)

// A 64x64 output block per workgroup, K in slabs of 32 staged in shared memory (zero-padded at
// the edges, transposes and batch strides resolved there, so the tile loads are plain
// row-major). The block is four 16x64 strips; a strip is four 16x16 accumulator tiles.
#define BM 64u
#define BN 64u
#define BK 32u
#define STRIPS 4u
#define TILE 16u
#ifdef COOPMAT_EMULATE
#define SH float
shared float Acc[STRIPS * TILE * BN];  // the strips' accumulators
#else
#define SH float16_t
shared float Cs[STRIPS * TILE * TILE];  // one accumulator tile per strip on its way out
#endif
shared SH As[BM * BK];  // (m, k)
shared SH Bs[BK * BN];  // (k, n)

void stage(uint m0, uint n0, uint k0, uint abase, uint bbase) {
    uint M = pc.M, N = pc.N, K = pc.K;
    bool ta = pc.ta != 0u, tb = pc.tb != 0u;
    uint tid = gl_LocalInvocationID.x;
    for (uint l = 0u; l < (BM * BK) / WG; ++l) {
        uint e = tid + l * WG;
        // Walk the contiguous axis of the stored operand fastest (coalesced loads).
        uint kk = ta ? e / BM : e % BK;
        uint mm = ta ? e % BM : e / BK;
        uint gm = m0 + mm, gk = k0 + kk;
        float v = 0.0;
        if (gm < M && gk < K) v = LOAD(a_, D1, abase + (ta ? gk * M + gm : gm * K + gk));
        As[mm * BK + kk] = SH(v);
        kk = tb ? e % BK : e / BN;
        uint nn = tb ? e / BK : e % BN;
        uint gn = n0 + nn;
        gk = k0 + kk;
        v = 0.0;
        if (gn < N && gk < K) v = LOAD(b_, D2, bbase + (tb ? gn * K + gk : gk * N + gn));
        Bs[kk * BN + nn] = SH(v);
    }
}

void main() {
    uint batch = pc.batch, M = pc.M, N = pc.N, K = pc.K;
    uint sg = gl_SubgroupID, nsg = gl_NumSubgroups, lane = gl_SubgroupInvocationID;
    uint lanes = gl_SubgroupSize;
    uint passes = (STRIPS + nsg - 1u) / nsg;
    // Grid-stride over batch (z), row blocks (y) and column blocks (x), as matmul.comp.
    for (uint bz = gl_WorkGroupID.z; bz < batch; bz += gl_NumWorkGroups.z) {
    for (uint m0 = gl_WorkGroupID.y * BM; m0 < M; m0 += gl_NumWorkGroups.y * BM) {
    for (uint n0 = gl_WorkGroupID.x * BN; n0 < N; n0 += gl_NumWorkGroups.x * BN) {
        uint abase = bz * pc.sa, bbase = bz * pc.sb;
        for (uint pass = 0u; pass < passes; ++pass) {
            uint strip = sg + pass * nsg;
            // Uniform within a subgroup, as the matrix operations require; every invocation
            // still reaches each barrier() below.
            bool mine = strip < STRIPS;
#ifdef COOPMAT_EMULATE
            if (mine)
                for (uint e = lane; e < TILE * BN; e += lanes) Acc[strip * TILE * BN + e] = 0.0;
#else
            coopmat<float, gl_ScopeSubgroup, 16, 16, gl_MatrixUseAccumulator> acc[4];
            for (uint j = 0u; j < 4u; ++j)
                acc[j] = coopmat<float, gl_ScopeSubgroup, 16, 16, gl_MatrixUseAccumulator>(0.0);
#endif
            for (uint k0 = 0u; k0 < K; k0 += BK) {
                barrier();  // every subgroup is done with the previous slab
                stage(m0, n0, k0, abase, bbase);
                barrier();
                if (!mine) continue;
#ifdef COOPMAT_EMULATE
                for (uint e = lane; e < TILE * BN; e += lanes) {
                    uint r = e / BN, c = e % BN;
                    float s = Acc[strip * TILE * BN + e];
                    for (uint k = 0u; k < BK; ++k)
                        s += As[(strip * TILE + r) * BK + k] * Bs[k * BN + c];
                    Acc[strip * TILE * BN + e] = s;
                }
#else
                for (uint kk = 0u; kk < BK; kk += TILE) {
                    coopmat<float16_t, gl_ScopeSubgroup, 16, 16, gl_MatrixUseA> ma;
                    coopMatLoad(ma, As, strip * TILE * BK + kk, BK,
                                gl_CooperativeMatrixLayoutRowMajor);
                    for (uint j = 0u; j < 4u; ++j) {
                        coopmat<float16_t, gl_ScopeSubgroup, 16, 16, gl_MatrixUseB> mb;
                        coopMatLoad(mb, Bs, kk * BN + j * TILE, BN,
                                    gl_CooperativeMatrixLayoutRowMajor);
                        acc[j] = coopMatMulAdd(ma, mb, acc[j]);
                    }
                }
#endif
            }
            if (!mine) continue;
            uint ob = bz * M * N;
#ifdef COOPMAT_EMULATE
            for (uint e = lane; e < TILE * BN; e += lanes) {
                uint r = m0 + strip * TILE + e / BN, c = n0 + e % BN;
                if (r < M && c < N) STORE_ANY(c_, D0, ob + r * N + c, Acc[strip * TILE * BN + e])
            }
#else
            for (uint j = 0u; j < 4u; ++j) {
                coopMatStore(acc[j], Cs, strip * TILE * TILE, TILE,
                             gl_CooperativeMatrixLayoutRowMajor);
                subgroupMemoryBarrierShared();
                subgroupBarrier();
                for (uint e = lane; e < TILE * TILE; e += lanes) {
                    uint r = m0 + strip * TILE + e / TILE, c = n0 + j * TILE + e % TILE;
                    if (r < M && c < N) STORE_ANY(c_, D0, ob + r * N + c, Cs[strip * TILE * TILE + e])
                }
                subgroupMemoryBarrierShared();
                subgroupBarrier();  // read out before the next tile overwrites it
            }
#endif
        }
    }}}
}
