// avg_pool.glsl: the divisor of average-pooling window (oh, ow), as PyTorch: the window clipped
// to the padded image, then (unless count_include_pad) to the image; or the divisor override.
#include "window.glsl"

// [start, end) of window o along an axis of the image (clipped to the image).
void avg_span(uint o, int s, int p, uint k, uint size, out int lo, out int hi, out int padded) {
    lo = int(o) * s - p;
    hi = min(lo + int(k), int(size) + p);
    padded = hi - lo;
    lo = max(lo, 0);
    hi = min(hi, int(size));
}

float avg_divisor(uint oh, uint ow) {
    float forced = uintBitsToFloat(pc.divisor);
    int y0, y1, ph, x0, x1, pw;
    avg_span(oh, SH, PT, KH, H_, y0, y1, ph);
    avg_span(ow, SW, PL, KW, W_, x0, x1, pw);
    if (forced != 0.0) return forced;
    return pc.include_pad != 0u ? float(ph * pw) : float((y1 - y0) * (x1 - x0));
}
