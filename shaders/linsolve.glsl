// linsolve.glsl: the push block of the smallmat kind (see smallmat.glsl), for the
// solver kernels; the svd kernels include svd.glsl instead.
#include "smallmat.glsl"

// Push constants (kinds/ declares the same names in the same order).
layout(push_constant) uniform PC { uint batch; uint n; uint k; uint sa; uint sb; uint attrs[27]; } pc;
