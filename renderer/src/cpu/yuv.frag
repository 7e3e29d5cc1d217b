#version 100

// planar's YUV to RGB texture shader (smithay custom texture program): the CPU path's
// mapped planes, uploaded as they are, converted where they are drawn. Uniforms are
// explained in gles_yuv.rs (`uniforms`); the layout (PACKED, TWO_PLANES or three) is
// defined in place of the line below.

//_LAYOUT_
//_DEFINES_

#ifdef GL_FRAGMENT_PRECISION_HIGH
precision highp float;
#else
precision mediump float;
#endif

uniform sampler2D tex;
uniform sampler2D tex_u;
uniform sampler2D tex_v;
uniform float alpha;
varying vec2 v_coords;

uniform vec2 size0;
uniform vec2 csize;
uniform vec2 sub;
uniform vec4 ymask;
uniform vec4 y1mask;
uniform vec4 umask;
uniform vec4 vmask;
uniform float flip;
uniform vec2 levels;
uniform vec2 bias;
uniform float ycoef;
uniform vec4 coeffs;
uniform vec2 shift;

#if defined(DEBUG_FLAGS)
uniform float tint;
#endif

vec3 level(vec3 s) {
    return floor(floor(s * levels.x + 0.5) / levels.y);
}

void main() {
    // The pixel of the image (buffer coordinates), then its row in memory.
    vec2 p = clamp(floor(v_coords * size0), vec2(0.0), size0 - 1.0);
    float row = mix(p.y, size0.y - 1.0 - p.y, flip);
    // One fetch per plane: chroma of the pixel's block (no interpolation, as the CPU).
    vec2 c = (vec2(floor(p.x / sub.x), floor(row / sub.y)) + 0.5) / csize;
#if defined(PACKED)
    // One RGBA texel holds two pixels: Y0, Y1 and their U and V.
    vec4 t = texture2D(tex, c);
    vec4 luma = mod(p.x, 2.0) < 0.5 ? ymask : y1mask;
    vec3 yuv = level(vec3(dot(t, luma), dot(t, umask), dot(t, vmask)));
#elif defined(TWO_PLANES)
    vec4 uv = texture2D(tex_u, c);
    float y0 = dot(texture2D(tex, (vec2(p.x, row) + 0.5) / size0), ymask);
    vec3 yuv = level(vec3(y0, dot(uv, umask), dot(uv, vmask)));
#else
    float y0 = dot(texture2D(tex, (vec2(p.x, row) + 0.5) / size0), ymask);
    vec3 yuv = level(vec3(y0, dot(texture2D(tex_u, c), umask), dot(texture2D(tex_v, c), vmask)));
#endif
    float y = yuv.x;
    float u = yuv.y;
    float v = yuv.z;
    // The CPU conversion's fixed-point arithmetic, done exactly (every value here is an
    // integer below 2^24): integer coefficients, then a rounding shift.
    y = (y - bias.x) * ycoef;
    u -= bias.y;
    v -= bias.y;
    vec3 sum = vec3(y + coeffs.x * v, y - coeffs.z * v - coeffs.w * u, y + coeffs.y * u);
    vec3 rgb = clamp(floor((sum + shift.y) / shift.x), 0.0, 255.0) / 255.0;
    vec4 color = vec4(rgb, 1.0) * alpha;

#if defined(DEBUG_FLAGS)
    if (tint == 1.0)
        color = vec4(0.0, 0.2, 0.0, 0.2) + color * 0.8;
#endif

    gl_FragColor = color;
}
