//! CPU-mapped, GPU-converted YUV on GLES: a CPU-path YUV buffer's mapped planes are
//! uploaded as they are (R8/RG8, R16/RG16 for P010/P012/P016, RG8 for packed 4:2:2: one
//! luma and one chroma sample a pixel), only their damaged rows, and converted to RGB by
//! a smithay custom texture shader (`yuv.frag`) where the surface is drawn. NV12 moves
//! 1.5 bytes a pixel instead of 4, and there is no RGBA copy of the frame at all.
//!
//! Why a texture shader at draw time rather than a conversion pass into an RGBA texture:
//! the draw is smithay's own `render_texture_from_to`, so the element composes like any
//! other texture (damage, buffer scale and transform, subsurfaces), and no pass writes
//! and re-reads a whole RGBA frame. y_invert is done in the shader (planes stay in memory
//! order, so an upload is a straight copy of the mapped rows).
//!
//! The shader reads samples exactly as the CPU conversion does (the `yuv` crate: chroma
//! of the block's sample, no interpolation; 16-bit samples shifted down to 10 bits), so
//! the two agree within ±1 (tests/tests/yuv_cross_path.rs).
//!
//! On by default except on CPU rasterizers (llvmpipe), where it was measured slower
//! than the CPU conversion; `PLANAR_YUV_SHADER=1` or `0` overrides (see [`wanted`]).
//!
//! Known limits: samples are fetched with the texel of the pixel, so a scaled surface
//! is drawn nearest-neighbour; needs GLES 3 (R8/RG8, unpack row length) and
//! GL_EXT_texture_norm16 for the 16-bit formats — without them those formats are
//! converted on the CPU as before.

use std::{ops::Range, sync::Arc};

use drm_fourcc::DrmFourcc as Fourcc;
use smithay::{
    backend::renderer::{
        element::{texture::TextureRenderElement, Element, RenderElement},
        gles::{
            ffi, GlesError, GlesFrame, GlesRenderer, GlesTexProgram, GlesTexture, Uniform,
            UniformName, UniformType,
        },
        pixman::PixmanRenderer,
        Renderer,
    },
    utils::{Buffer, Physical, Point, Rectangle, Scale, Transform},
};

use super::{
    convert::{Matrix, YuvEncoding},
    CpuBuffer, ReadError,
};
use crate::error::UploadError;

const SHADER: &str = include_str!("yuv.frag");

// GLES 3 / GL_EXT_texture_norm16 enums (not all in smithay's generated bindings).
const R8: u32 = 0x8229;
const RG8: u32 = 0x822B;
const R16: u32 = 0x822A;
const RG16: u32 = 0x822C;
const RED: u32 = 0x1903;
const RG: u32 = 0x8227;

/// Channel masks: which texel channel holds a sample.
const CH: [[f32; 4]; 4] = [
    [1.0, 0.0, 0.0, 0.0],
    [0.0, 1.0, 0.0, 0.0],
    [0.0, 0.0, 1.0, 0.0],
    [0.0, 0.0, 0.0, 1.0],
];

/// The shader's layouts, one program each: one fetch per plane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// 4:2:2 packed in one plane: an RGBA8 texel is a two-pixel block.
    Packed,
    /// Luma, then interleaved chroma (NV12 …, P010 …).
    TwoPlanes,
    /// Luma, U and V planes (YUV420 …).
    ThreePlanes,
}

/// How one YUV format's planes become textures and samples.
#[derive(Debug, Clone, Copy)]
struct Layout {
    class: Class,
    /// Channels per texel of each plane (1: R, 2: RG, 4: RGBA).
    channels: [u8; 3],
    /// 16-bit samples (P010/P012/P016).
    deep: bool,
    /// Channel of luma (of the block's first and second pixel when packed), U and V.
    y: [f32; 4],
    y1: [f32; 4],
    u: [f32; 4],
    v: [f32; 4],
    /// The planes U and V are sampled from.
    u_plane: usize,
    v_plane: usize,
}

fn layout(fourcc: Fourcc) -> Option<Layout> {
    use Fourcc::*;
    let bi = |swap: bool, deep: bool| Layout {
        class: Class::TwoPlanes,
        channels: [1, 2, 0],
        deep,
        y: CH[0],
        y1: CH[0],
        u: CH[usize::from(swap)],
        v: CH[usize::from(!swap)],
        u_plane: 1,
        v_plane: 1,
    };
    let tri = |swap: bool| Layout {
        class: Class::ThreePlanes,
        channels: [1, 1, 1],
        deep: false,
        y: CH[0],
        y1: CH[0],
        u: CH[0],
        v: CH[0],
        u_plane: if swap { 2 } else { 1 },
        v_plane: if swap { 1 } else { 2 },
    };
    // Packed: the byte order of a two-pixel block, as (Y0, Y1, U, V) positions.
    let packed = |[y0, y1, u, v]: [usize; 4]| Layout {
        class: Class::Packed,
        channels: [4, 0, 0],
        deep: false,
        y: CH[y0],
        y1: CH[y1],
        u: CH[u],
        v: CH[v],
        u_plane: 0,
        v_plane: 0,
    };
    Some(match fourcc {
        Nv12 | Nv16 | Nv24 => bi(false, false),
        Nv21 | Nv61 | Nv42 => bi(true, false),
        P010 | P012 | P016 => bi(false, true),
        Yuv420 | Yuv422 | Yuv444 => tri(false),
        Yvu420 | Yvu422 | Yvu444 => tri(true),
        Yuyv => packed([0, 2, 1, 3]),
        Yvyu => packed([0, 2, 3, 1]),
        Uyvy => packed([1, 3, 0, 2]),
        Vyuy => packed([1, 3, 2, 0]),
        _ => return None,
    })
}

/// The texture format (internal, format, type) of a plane of `channels` samples.
fn gl_format(channels: u8, deep: bool) -> (u32, u32, u32) {
    match (channels, deep) {
        (1, false) => (R8, RED, ffi::UNSIGNED_BYTE),
        (2, false) => (RG8, RG, ffi::UNSIGNED_BYTE),
        (4, _) => (ffi::RGBA8, ffi::RGBA, ffi::UNSIGNED_BYTE),
        (1, true) => (R16, RED, ffi::UNSIGNED_SHORT),
        _ => (RG16, RG, ffi::UNSIGNED_SHORT),
    }
}

/// The YUV formats this renderer converts in the shader: all the CPU path reads, given
/// GLES 3 (and GL_EXT_texture_norm16 for 16-bit samples).
pub fn formats(renderer: &mut GlesRenderer) -> Vec<Fourcc> {
    let caps = renderer.with_context(|gl| unsafe {
        let text = |name| {
            let p = gl.GetString(name);
            if p.is_null() {
                String::new()
            } else {
                std::ffi::CStr::from_ptr(p.cast())
                    .to_string_lossy()
                    .into_owned()
            }
        };
        (text(ffi::EXTENSIONS), text(ffi::RENDERER))
    });
    let Ok((extensions, gl_renderer)) = caps else {
        return Vec::new();
    };
    if !wanted(&gl_renderer) {
        return Vec::new();
    }
    // smithay marks a GLES 3 context by its Blit capability (`gl_version >= 3.0`).
    let gles3 = renderer
        .capabilities()
        .contains(&smithay::backend::renderer::gles::Capability::Blit);
    let norm16 = extensions
        .split_whitespace()
        .any(|e| e == "GL_EXT_texture_norm16");
    // The shader is compiled at the first YUV buffer, not here: six programs (smithay's
    // variants) cost start-up time that runs without YUV do not need.
    if !gles3 {
        return Vec::new();
    }
    planar_protocol::format::FORMATS
        .iter()
        .map(|f| f.fourcc)
        .filter(|&f| layout(f).is_some_and(|l| norm16 || !l.deep))
        .collect()
}

/// Whether YUV goes through the shader on a renderer named `gl_renderer`
/// (GL_RENDERER): `PLANAR_YUV_SHADER=1` or `0` decides; by default yes, except on CPU
/// rasterizers (llvmpipe, softpipe), where sampling three textures per pixel in the
/// JIT-compiled shader was measured slower than the `yuv` crate's SIMD conversion plus
/// a 4-byte upload (1080p NV12: 54 against 37 ms of compositor CPU a frame).
fn wanted(gl_renderer: &str) -> bool {
    let software = ["llvmpipe", "softpipe"]
        .iter()
        .any(|name| gl_renderer.contains(name));
    let choice = std::env::var("PLANAR_YUV_SHADER").ok();
    let on = match choice.as_deref() {
        Some("1") => true,
        Some("0") => false,
        _ => !software,
    };
    tracing::debug!(
        gl_renderer,
        shader = on,
        env = choice.as_deref().unwrap_or("unset"),
        "YUV on the CPU path: converted in the GLES shader (planes uploaded as they are) \
         or on the CPU (PLANAR_YUV_SHADER=1/0; default: the shader except on llvmpipe)"
    );
    on
}

/// The shader's programs, compiled once per renderer and layout (kept in its EGL
/// context's user data).
#[derive(Default)]
struct Programs(std::cell::RefCell<Vec<(Class, GlesTexProgram)>>);

fn program(renderer: &mut GlesRenderer, class: Class) -> Result<GlesTexProgram, GlesError> {
    let data = renderer.egl_context().user_data();
    data.insert_if_missing(Programs::default);
    let cached = data.get::<Programs>().and_then(|p| {
        let list = p.0.borrow();
        list.iter()
            .find(|(c, _)| *c == class)
            .map(|(_, p)| p.clone())
    });
    if let Some(p) = cached {
        return Ok(p);
    }
    let names = [
        ("tex_u", UniformType::_1i),
        ("tex_v", UniformType::_1i),
        ("size0", UniformType::_2f),
        ("csize", UniformType::_2f),
        ("sub", UniformType::_2f),
        ("ymask", UniformType::_4f),
        ("y1mask", UniformType::_4f),
        ("umask", UniformType::_4f),
        ("vmask", UniformType::_4f),
        ("flip", UniformType::_1f),
        ("levels", UniformType::_2f),
        ("bias", UniformType::_2f),
        ("ycoef", UniformType::_1f),
        ("coeffs", UniformType::_4f),
        ("shift", UniformType::_2f),
    ]
    .map(|(n, t)| UniformName::new(n, t));
    let define = match class {
        Class::Packed => "#define PACKED",
        Class::TwoPlanes => "#define TWO_PLANES",
        Class::ThreePlanes => "",
    };
    let p = renderer.compile_custom_texture_shader(SHADER.replace("//_LAYOUT_", define), &names)?;
    if let Some(programs) = renderer.egl_context().user_data().get::<Programs>() {
        programs.0.borrow_mut().push((class, p.clone()));
    }
    Ok(p)
}

/// One plane's texture and how its rows are uploaded.
struct PlaneTexture {
    texture: GlesTexture,
    /// GL format and type of the upload.
    format: u32,
    kind: u32,
    /// Texels a row, rows, bytes a texel.
    size: (usize, usize, usize),
    /// Image rows a plane row covers.
    vsub: usize,
}

/// A `planes_direct` buffer's GPU side: one texture per plane, the program, and the
/// uniforms for its format and encoding.
pub(crate) struct Planes {
    planes: Vec<PlaneTexture>,
    program: GlesTexProgram,
    uniforms: Arc<[Uniform<'static>]>,
    /// The encoding `uniforms` were made for.
    encoding: YuvEncoding,
}

/// Makes the plane textures of `buffer` (kept in it); returns plane 0's, which stands
/// for the image in the scene.
pub(crate) fn create(
    renderer: &mut GlesRenderer,
    buffer: &mut CpuBuffer,
) -> Result<GlesTexture, UploadError> {
    let layout =
        layout(buffer.format.fourcc).ok_or(UploadError::NoShaderLayout(buffer.format.fourcc))?;
    let program = program(renderer, layout.class)?;
    let mut planes = Vec::new();
    for (i, size) in buffer.plane_textures().into_iter().enumerate() {
        let (internal, format, kind) = gl_format(layout.channels[i], layout.deep);
        let (w, h) = (size.0 as i32, size.1 as i32);
        let made = renderer
            .with_context(|gl| unsafe {
                // Errors left by earlier calls are not this texture's (bounded: a lost
                // context may keep reporting).
                for _ in 0..8 {
                    if gl.GetError() == ffi::NO_ERROR {
                        break;
                    }
                }
                let mut tex = 0;
                gl.GenTextures(1, &mut tex);
                gl.BindTexture(ffi::TEXTURE_2D, tex);
                for (param, value) in [
                    (ffi::TEXTURE_MIN_FILTER, ffi::NEAREST),
                    (ffi::TEXTURE_MAG_FILTER, ffi::NEAREST),
                    (ffi::TEXTURE_WRAP_S, ffi::CLAMP_TO_EDGE),
                    (ffi::TEXTURE_WRAP_T, ffi::CLAMP_TO_EDGE),
                ] {
                    gl.TexParameteri(ffi::TEXTURE_2D, param, value as i32);
                }
                gl.TexImage2D(
                    ffi::TEXTURE_2D,
                    0,
                    internal as i32,
                    w,
                    h,
                    0,
                    format,
                    kind,
                    std::ptr::null(),
                );
                let code = gl.GetError();
                gl.BindTexture(ffi::TEXTURE_2D, 0);
                if code != ffi::NO_ERROR {
                    // No storage: the texture would sample as black, or fault an upload.
                    gl.DeleteTextures(1, &tex);
                    return Err(UploadError::PlaneTexture { plane: i, code });
                }
                Ok(tex)
            })
            .map_err(UploadError::Gles)?;
        let id = made?;
        // smithay picks a program variant by a texture's format and panics on formats it
        // does not sample itself: plane 0, the one it draws, is named RGBA8 (opaque, so
        // the NO_ALPHA variant; the YUV shader is the same in every variant).
        let named = if i == 0 { ffi::RGBA8 } else { internal };
        // Plane 0 stands for the image in the scene, so it is declared the image's size
        // (smithay uses the size only for geometry and texture coordinates, which the
        // shader maps back to texels itself): a packed 4:2:2 texture is half as wide.
        let declared = if i == 0 {
            (buffer.width as i32, buffer.height as i32)
        } else {
            (w, h)
        };
        // SAFETY: a texture just made in this renderer's context, owned from here on.
        let texture =
            unsafe { GlesTexture::from_raw(renderer, Some(named), true, id, declared.into()) };
        planes.push(PlaneTexture {
            texture,
            format,
            kind,
            size,
            vsub: if i == 0 {
                1
            } else {
                usize::from(buffer.format.vsub.max(1))
            },
        });
    }
    let first = planes[0].texture.clone();
    tracing::info!(
        fourcc = %buffer.format.fourcc,
        width = buffer.width,
        height = buffer.height,
        "YUV planes uploaded as they are, converted to RGB by the GLES shader"
    );
    let encoding = buffer.encoding();
    let uniforms = uniforms(buffer, &layout, &planes);
    buffer.gles = Some(Planes {
        planes,
        program,
        uniforms,
        encoding,
    });
    Ok(first)
}

/// Uploads the plane rows behind image rows `rows`, straight from the mapping; returns
/// the image rows that changed.
pub(crate) fn read(
    renderer: &mut GlesRenderer,
    buffer: &mut CpuBuffer,
    rows: Range<usize>,
) -> Result<Range<usize>, ReadError> {
    let mut gpu = buffer.gles.take().ok_or(UploadError::NoPlaneTextures)?;
    if gpu.encoding != buffer.encoding() {
        if let Some(layout) = layout(buffer.format.fourcc) {
            gpu.uniforms = uniforms(buffer, &layout, &gpu.planes);
        }
        gpu.encoding = buffer.encoding();
    }
    let result = buffer.read_planes(rows, |mem, data| {
        renderer
            .with_context(|gl| unsafe {
                gl.PixelStorei(ffi::UNPACK_ALIGNMENT, 1);
                for (i, plane) in gpu.planes.iter().enumerate() {
                    let rows =
                        mem.start / plane.vsub..mem.end.div_ceil(plane.vsub).min(plane.size.1);
                    upload(gl, plane, data.data[i], data.stride[i], rows);
                }
                gl.PixelStorei(ffi::UNPACK_ROW_LENGTH, 0);
                gl.PixelStorei(ffi::UNPACK_ALIGNMENT, 4);
                gl.BindTexture(ffi::TEXTURE_2D, 0);
            })
            .map_err(UploadError::Gles)
    });
    buffer.gles = Some(gpu);
    result
}

/// Copies rows `rows` of a mapped plane (`data` from its row 0) into its texture: one
/// call with the stride as the row length when it is a whole number of texels, else
/// row by row. The mapping was checked at creation to hold every row.
///
/// # Safety
/// A current GL context, the renderer's.
unsafe fn upload(
    gl: &ffi::Gles2,
    plane: &PlaneTexture,
    data: &[u8],
    stride: usize,
    rows: Range<usize>,
) {
    let (w, _, texel) = plane.size;
    if rows.is_empty() || data.len() < (rows.end - 1) * stride + w * texel {
        return;
    }
    gl.BindTexture(ffi::TEXTURE_2D, plane.texture.tex_id());
    let sub = |gl: &ffi::Gles2, y: usize, n: usize, row_length: usize| {
        gl.PixelStorei(ffi::UNPACK_ROW_LENGTH, row_length as i32);
        gl.TexSubImage2D(
            ffi::TEXTURE_2D,
            0,
            0,
            y as i32,
            w as i32,
            n as i32,
            plane.format,
            plane.kind,
            data[y * stride..].as_ptr().cast(),
        );
    };
    if stride.is_multiple_of(texel) {
        sub(gl, rows.start, rows.end - rows.start, stride / texel);
    } else {
        for y in rows {
            sub(gl, y, 1, 0);
        }
    }
}

/// The shader's uniforms for `buffer`: plane sizes, where U and V are, the sample depth,
/// range and matrix.
fn uniforms(
    buffer: &CpuBuffer,
    layout: &Layout,
    planes: &[PlaneTexture],
) -> Arc<[Uniform<'static>]> {
    let size = |i: usize| [planes[i].size.0 as f32, planes[i].size.1 as f32];
    let f = buffer.format;
    let sub = match layout.class {
        Class::Packed => [2.0, 1.0],
        _ => [f32::from(f.hsub), f32::from(f.vsub)],
    };
    let enc = buffer.encoding();
    // Sample levels: 8-bit as they are; 16-bit shifted down to 10 bits, as the CPU path.
    let (levels, bits) = if layout.deep {
        ([65535.0, 64.0], 10)
    } else {
        ([255.0, 1.0], 8)
    };
    // The `yuv` crate's integer transform: coefficients scaled to `precision` bits (6 for
    // its packed 4:2:2 path, 13 for the others), the sum shifted down by precision plus
    // the bits past 8, rounding.
    let precision = if layout.class == Class::Packed { 6 } else { 13 };
    let fixed = fixed_point(enc, bits, precision);
    let flip = if buffer.y_inverted() { 1.0 } else { 0.0 };
    vec![
        Uniform::new("tex_u", 1),
        Uniform::new("tex_v", 2),
        Uniform::new("size0", [buffer.width as f32, buffer.height as f32]),
        Uniform::new("csize", size(layout.u_plane)),
        Uniform::new("sub", sub),
        Uniform::new("ymask", layout.y),
        Uniform::new("y1mask", layout.y1),
        Uniform::new("umask", layout.u),
        Uniform::new("vmask", layout.v),
        Uniform::new("flip", flip),
        Uniform::new("levels", levels),
        Uniform::new("bias", fixed.bias),
        Uniform::new("ycoef", fixed.y),
        Uniform::new("coeffs", fixed.coeffs),
        Uniform::new("shift", fixed.shift),
    ]
    .into()
}

/// The integer YUV→RGB transform of the `yuv` crate (`get_inverse_transform`, then
/// `to_integers`; not public there), as floats for the shader.
#[derive(Debug, PartialEq)]
struct FixedPoint {
    /// Bias of Y and of U/V, in sample units.
    bias: [f32; 2],
    y: f32,
    /// Cr→R, Cb→B, Cr→G, Cb→G.
    coeffs: [f32; 4],
    /// 2^shift and half of it.
    shift: [f32; 2],
}

fn fixed_point(enc: YuvEncoding, bits: u32, precision: u32) -> FixedPoint {
    let (kr, kb): (f32, f32) = match enc.matrix {
        Matrix::Bt601 => (0.299, 0.114),
        Matrix::Bt709 => (0.2126, 0.0722),
        Matrix::Bt2020 => (0.2627, 0.0593),
    };
    let top = (1u32 << bits) - 1;
    let (bias_y, range_y, range_uv) = if enc.full_range {
        (0, top, top)
    } else {
        (16 << (bits - 8), 219 << (bits - 8), 224 << (bits - 8))
    };
    let uv = top as f32 / range_uv as f32;
    let kg = 1.0 - kr - kb;
    let scale = (1u32 << precision) as f32;
    let int = |c: f32| (c * scale).round();
    let shift = (1u32 << (precision + bits - 8)) as f32;
    FixedPoint {
        bias: [bias_y as f32, (1u32 << (bits - 1)) as f32],
        y: int(top as f32 / range_y as f32),
        coeffs: [
            int(2.0 * (1.0 - kr) * uv),
            int(2.0 * (1.0 - kb) * uv),
            int(2.0 * ((1.0 - kr) * kr / kg) * uv),
            int(2.0 * ((1.0 - kb) * kb / kg) * uv),
        ],
        shift: [shift, shift / 2.0],
    }
}
/// A GPU-converted YUV surface in the scene: smithay's texture element for plane 0,
/// drawn with the YUV program and the other planes bound beside it.
pub struct YuvElement {
    inner: TextureRenderElement<GlesTexture>,
    y: GlesTexture,
    u: GlesTexture,
    v: GlesTexture,
    program: GlesTexProgram,
    uniforms: Arc<[Uniform<'static>]>,
}

element_via_inner!(impl<> YuvElement);

impl<R: YuvDraw> RenderElement<R> for YuvElement {
    fn draw(
        &self,
        frame: &mut R::Frame<'_, '_>,
        src: Rectangle<f64, Buffer>,
        dst: Rectangle<i32, Physical>,
        damage: &[Rectangle<i32, Physical>],
        opaque_regions: &[Rectangle<i32, Physical>],
    ) -> Result<(), R::Error> {
        R::draw_yuv(frame, self, src, dst, damage, opaque_regions)
    }
}

/// What the scene needs from a renderer for GPU-converted YUV. Only GLES converts; the
/// pixman side never has such buffers (its `direct` formats hold no YUV).
pub(crate) trait YuvDraw: Renderer + Sized {
    /// The element drawing `buffer` converted, when the renderer converts it; `element`
    /// makes smithay's texture element for its plane 0.
    fn yuv_element(
        _buffer: &CpuBuffer,
        _element: impl FnOnce() -> TextureRenderElement<Self::TextureId>,
    ) -> Option<YuvElement> {
        None
    }
    /// Uploads the planes behind image rows `rows`; returns the image rows that changed.
    fn read_planes(
        &mut self,
        _buffer: &mut CpuBuffer,
        _rows: Range<usize>,
    ) -> Result<Range<usize>, ReadError> {
        Err(UploadError::PixmanConvertsYuv.into())
    }
    /// Draws `element` (never called for a renderer whose `yuv_element` refuses).
    fn draw_yuv(
        _frame: &mut Self::Frame<'_, '_>,
        _element: &YuvElement,
        _src: Rectangle<f64, Buffer>,
        _dst: Rectangle<i32, Physical>,
        _damage: &[Rectangle<i32, Physical>],
        _opaque_regions: &[Rectangle<i32, Physical>],
    ) -> Result<(), Self::Error> {
        Ok(())
    }
}

impl YuvDraw for GlesRenderer {
    fn yuv_element(
        buffer: &CpuBuffer,
        element: impl FnOnce() -> TextureRenderElement<GlesTexture>,
    ) -> Option<YuvElement> {
        let (gpu, layout) = (buffer.gles.as_ref()?, layout(buffer.format.fourcc)?);
        Some(YuvElement {
            inner: element(),
            y: gpu.planes[0].texture.clone(),
            u: gpu.planes[layout.u_plane].texture.clone(),
            v: gpu.planes[layout.v_plane].texture.clone(),
            program: gpu.program.clone(),
            uniforms: gpu.uniforms.clone(),
        })
    }

    fn read_planes(
        &mut self,
        buffer: &mut CpuBuffer,
        rows: Range<usize>,
    ) -> Result<Range<usize>, ReadError> {
        read(self, buffer, rows)
    }

    fn draw_yuv(
        frame: &mut GlesFrame<'_, '_>,
        element: &YuvElement,
        src: Rectangle<f64, Buffer>,
        dst: Rectangle<i32, Physical>,
        damage: &[Rectangle<i32, Physical>],
        opaque_regions: &[Rectangle<i32, Physical>],
    ) -> Result<(), GlesError> {
        let bind = |frame: &mut GlesFrame<'_, '_>, u: u32, v: u32| {
            frame.with_context(|gl| unsafe {
                gl.ActiveTexture(ffi::TEXTURE1);
                gl.BindTexture(ffi::TEXTURE_2D, u);
                gl.ActiveTexture(ffi::TEXTURE2);
                gl.BindTexture(ffi::TEXTURE_2D, v);
                gl.ActiveTexture(ffi::TEXTURE0);
            })
        };
        bind(frame, element.u.tex_id(), element.v.tex_id())?;
        let drawn = frame.render_texture_from_to(
            &element.y,
            src,
            dst,
            damage,
            opaque_regions,
            element.inner.transform(),
            element.inner.alpha(),
            Some(&element.program),
            &element.uniforms,
        );
        // Units 1 and 2 back to nothing: smithay's own draws use unit 0 only.
        bind(frame, 0, 0)?;
        drawn
    }
}

impl YuvDraw for PixmanRenderer {}
