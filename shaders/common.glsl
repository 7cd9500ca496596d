// common.glsl: workgroup size, dtype codes and the load/store helpers for packed buffers. Each
// kind's header declares its push-constant block (at most 32 uint words = the guaranteed 128
// bytes; floats travel bit-cast), with the names its module in kinds/ declares.
#ifndef WG
#define WG 256
#endif
layout(local_size_x = WG) in;

// Binding dtypes (defines D0..D4, one per binding). bool is stored as an int32 0/1.
#define DT_F32 0
#define DT_F16 1
#define DT_I32 2
#define DT_BOOL 3
#ifndef D0
#define D0 DT_F32
#endif
#ifndef D1
#define D1 DT_F32
#endif
#ifndef D2
#define D2 DT_F32
#endif
#ifndef D3
#define D3 DT_F32
#endif
#ifndef D4
#define D4 DT_F32
#endif

// Element i of a uint buffer holding dtype dt, as f32. dt is a compile-time constant, so the
// unused branches fold away (and never index out of range).
#define LOAD(buf, dt, i) ((dt) == DT_F16 ? unpackHalf2x16(buf[(i) >> 1])[(i) & 1u] \
    : (dt) == DT_F32 ? uintBitsToFloat(buf[i])                                    \
    : (dt) == DT_I32 ? float(int(buf[i])) : float(buf[i] != 0u))

// One 32-bit word for an f32 / int32 / bool element (float -> int truncates, as NumPy).
uint encode_word(float v, int dt) {
    if (dt == DT_F32) return floatBitsToUint(v);
    if (dt == DT_I32) return uint(int(v));
    return (v != 0.0) ? 1u : 0u;
}

// Without 16-bit storage a thread cannot write a lone half: clear our half, then set it, each
// with an atomic on the whole word, so a neighbour writing the other half concurrently is safe.
#define STORE_HALF_ATOMIC(buf, i, v) {                                   \
        uint sh_ = ((i) & 1u) * 16u;                                     \
        uint h_ = packHalf2x16(vec2((v), 0.0)) & 0xFFFFu;               \
        atomicAnd(buf[(i) >> 1], ~(0xFFFFu << sh_));                     \
        atomicOr(buf[(i) >> 1], h_ << sh_);                              \
    }

// Store element i of dtype dt, race-free whatever the neighbours do (f16: atomic half store).
#define STORE_ANY(buf, dt, i, v) {                                       \
        if ((dt) == DT_F16) { STORE_HALF_ATOMIC(buf, i, v) }             \
        else { buf[i] = encode_word((v), (dt)); }                        \
    }

#define INF uintBitsToFloat(0x7f800000u)
