//! Every linux-dmabuf error code and every boundary of the pure validation.

use drm_fourcc::DrmFourcc as Fourcc;
use planar_protocol::{
    advertise::{Advertised, Tranche, MOD_INVALID, MOD_LINEAR},
    format::MAX_PLANES,
    validate::{
        check_add, check_create, check_sampling_device, CreateRequest, ParamsError::*, Plane,
        Rejection, FLAG_BOTTOM_FIRST, FLAG_INTERLACED, FLAG_Y_INVERT,
    },
};

fn advertised() -> Advertised {
    let mut formats = Vec::new();
    for f in [
        Fourcc::Xrgb8888,
        Fourcc::Nv12,
        Fourcc::Yuv420,
        Fourcc::Yuyv,
        Fourcc::P010,
    ] {
        formats.push((f as u32, MOD_LINEAR));
        formats.push((f as u32, MOD_INVALID));
    }
    formats.push((Fourcc::Argb8888 as u32, MOD_LINEAR));
    Advertised {
        main_device: 0,
        tranches: vec![Tranche {
            device: 0,
            flags: 0,
            formats,
        }],
    }
}

fn req(w: i32, h: i32, f: Fourcc) -> CreateRequest {
    CreateRequest {
        width: w,
        height: h,
        format: f as u32,
        flags: 0,
        version: 5,
    }
}

fn plane(offset: u32, stride: u32, size: u64) -> Option<Plane> {
    Some(Plane {
        offset,
        stride,
        modifier: MOD_LINEAR,
        size: Some(size),
    })
}

fn planes(list: &[Option<Plane>]) -> [Option<Plane>; MAX_PLANES] {
    let mut out = [None; MAX_PLANES];
    out[..list.len()].copy_from_slice(list);
    out
}

/// `create` of a 64x64 XRGB8888 buffer with `planes`, everything advertised.
fn create_xr24_64(
    planes: &[Option<Plane>; MAX_PLANES],
    used: bool,
) -> Result<&'static planar_protocol::format::FormatInfo, Rejection> {
    check_create(&req(64, 64, Fourcc::Xrgb8888), planes, used, &advertised())
}

/// The protocol error of [`create_xr24_64`] with the planes `list`, if any.
fn create_code(list: &[Option<Plane>], used: bool) -> Option<u32> {
    code(create_xr24_64(&planes(list), used))
}

fn code(r: Result<&'static planar_protocol::format::FormatInfo, Rejection>) -> Option<u32> {
    match r {
        Err(Rejection::Protocol(c, _)) => Some(c as u32),
        _ => None,
    }
}

fn failed(r: Result<&'static planar_protocol::format::FormatInfo, Rejection>) -> String {
    match r {
        Err(Rejection::Failed(m)) => m,
        other => panic!("expected failed, got {other:?}"),
    }
}

#[test]
fn add_errors() {
    let empty = [None; MAX_PLANES];
    assert_eq!(
        check_add(&empty, false, 4, 0, 5)
            .unwrap_err()
            .into_protocol()
            .0,
        PlaneIdx
    );
    assert_eq!(
        check_add(&empty, false, u32::MAX, 0, 5)
            .unwrap_err()
            .into_protocol()
            .0,
        PlaneIdx
    );
    assert!(check_add(&empty, false, 3, 0, 5).is_ok());
    let one = planes(&[plane(0, 256, 65536)]);
    let (code, msg) = check_add(&one, false, 0, 0, 5).unwrap_err().into_protocol();
    assert_eq!(code, PlaneSet);
    assert!(msg.contains("plane 0"), "{msg}");
    assert_eq!(
        check_add(&one, true, 1, 0, 5)
            .unwrap_err()
            .into_protocol()
            .0,
        AlreadyUsed
    );
    // v5: modifiers must match at add; v4 leaves it to create.
    let (code, msg) = check_add(&one, false, 1, MOD_INVALID, 5)
        .unwrap_err()
        .into_protocol();
    assert_eq!(code, InvalidFormat);
    assert!(msg.contains("plane 1") && msg.contains("plane 0"), "{msg}");
    assert!(check_add(&one, false, 1, MOD_INVALID, 4).is_ok());
}

#[test]
fn create_accepts_exact_fit() {
    // 64x64 XRGB8888, stride 256: exactly 16384 bytes.
    let p = planes(&[plane(0, 256, 16384)]);
    let info = create_xr24_64(&p, false).unwrap();
    assert_eq!(info.planes, 1);
}

#[test]
fn create_one_byte_over_is_out_of_bounds() {
    let p = planes(&[plane(1, 256, 16384)]);
    let r = create_xr24_64(&p, false);
    match r {
        Err(Rejection::Protocol(OutOfBounds, msg)) => {
            assert!(
                msg.contains("plane 0") && msg.contains("16385") && msg.contains("16384"),
                "{msg}"
            )
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn offset_at_end_is_out_of_bounds() {
    assert_eq!(
        create_code(&[plane(16384, 256, 16384)], false),
        Some(OutOfBounds as u32)
    );
}

#[test]
fn u32_overflow_is_out_of_bounds_not_a_wrap() {
    // offset + stride*height wraps u32 (0xffff_ff00 + 256*64 > 2^32) but not u64.
    let p = planes(&[plane(0xffff_ff00, 256, u64::from(u32::MAX))]);
    assert_eq!(code(create_xr24_64(&p, false)), Some(OutOfBounds as u32));
    // Huge stride and height: the product overflows 32 bits.
    let p = planes(&[plane(0, u32::MAX, 1 << 20)]);
    assert_eq!(
        code(check_create(
            &req(64, i32::MAX, Fourcc::Xrgb8888),
            &p,
            false,
            &advertised()
        )),
        Some(OutOfBounds as u32)
    );
    // Unknown size: the layout must still fit 32 bits.
    let mut p = planes(&[plane(0xffff_f000, 256, 0)]);
    p[0].as_mut().unwrap().size = None;
    assert_eq!(code(create_xr24_64(&p, false)), Some(OutOfBounds as u32));
    p[0].as_mut().unwrap().offset = 0;
    assert!(create_xr24_64(&p, false).is_ok());
}

#[test]
fn height_zero_with_huge_offset_is_invalid_dimensions() {
    let p = planes(&[plane(u32::MAX, 256, 16384)]);
    assert_eq!(
        code(check_create(
            &req(64, 0, Fourcc::Xrgb8888),
            &p,
            false,
            &advertised()
        )),
        Some(InvalidDimensions as u32)
    );
    assert_eq!(
        code(check_create(
            &req(-1, 64, Fourcc::Xrgb8888),
            &p,
            false,
            &advertised()
        )),
        Some(InvalidDimensions as u32)
    );
}

#[test]
fn stride_shorter_than_a_row_is_out_of_bounds() {
    let p = planes(&[plane(0, 255, 1 << 20)]);
    let r = create_xr24_64(&p, false);
    match r {
        Err(Rejection::Protocol(OutOfBounds, msg)) => {
            assert!(msg.contains("stride 255") && msg.contains("256"), "{msg}")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn formats_must_be_known_and_advertised() {
    let p = planes(&[plane(0, 256, 16384)]);
    let mut r = req(64, 64, Fourcc::Xrgb8888);
    r.format = 0x3132_3334;
    assert_eq!(
        code(check_create(&r, &p, false, &advertised())),
        Some(InvalidFormat as u32)
    );
    // Known but not advertised.
    assert_eq!(
        code(check_create(
            &req(64, 64, Fourcc::Abgr8888),
            &p,
            false,
            &advertised()
        )),
        Some(InvalidFormat as u32)
    );
}

#[test]
fn pair_must_be_advertised_from_v4_and_fails_before() {
    // ARGB8888 is advertised with LINEAR only.
    let mut p = planes(&[plane(0, 256, 16384)]);
    p[0].as_mut().unwrap().modifier = MOD_INVALID;
    let r = req(64, 64, Fourcc::Argb8888);
    assert_eq!(
        code(check_create(&r, &p, false, &advertised())),
        Some(InvalidFormat as u32)
    );
    let v3 = CreateRequest { version: 3, ..r };
    assert!(failed(check_create(&v3, &p, false, &advertised())).contains("not advertised"));
}

#[test]
fn plane_count_comes_from_the_table() {
    // NV12 needs 2 planes.
    let one = planes(&[plane(0, 64, 1 << 20)]);
    let r = check_create(&req(64, 64, Fourcc::Nv12), &one, false, &advertised());
    assert_eq!(code(r), Some(Incomplete as u32));
    // XRGB8888 needs 1; a second is too many.
    let two = planes(&[plane(0, 256, 1 << 20), plane(0, 256, 1 << 20)]);
    assert_eq!(code(create_xr24_64(&two, false)), Some(Incomplete as u32));
    // A gap: planes 0 and 2 of I420.
    let gap = planes(&[plane(0, 64, 1 << 20), None, plane(0, 32, 1 << 20)]);
    assert_eq!(
        code(check_create(
            &req(64, 64, Fourcc::Yuv420),
            &gap,
            false,
            &advertised()
        )),
        Some(Incomplete as u32)
    );
}

#[test]
fn used_params_are_already_used() {
    assert_eq!(
        create_code(&[plane(0, 256, 16384)], true),
        Some(AlreadyUsed as u32)
    );
}

#[test]
fn nv12_in_one_fd_uses_subsampled_height_per_plane() {
    // 64x64 NV12, strides 64, Y at 0 (4096 bytes), UV at 4096: 32 rows of 64 = 2048.
    let size = 4096 + 2048;
    let p = planes(&[plane(0, 64, size), plane(4096, 64, size)]);
    assert!(check_create(&req(64, 64, Fourcc::Nv12), &p, false, &advertised()).is_ok());
    // The chroma plane one byte further does not fit.
    let p = planes(&[plane(0, 64, size), plane(4097, 64, size)]);
    match check_create(&req(64, 64, Fourcc::Nv12), &p, false, &advertised()) {
        Err(Rejection::Protocol(OutOfBounds, msg)) => assert!(msg.starts_with("plane 1"), "{msg}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn yuv420_in_separate_fds() {
    let p = planes(&[plane(0, 64, 4096), plane(0, 32, 1024), plane(0, 32, 1024)]);
    assert!(check_create(&req(64, 64, Fourcc::Yuv420), &p, false, &advertised()).is_ok());
    let p = planes(&[plane(0, 64, 4096), plane(0, 32, 1024), plane(0, 32, 1023)]);
    match check_create(&req(64, 64, Fourcc::Yuv420), &p, false, &advertised()) {
        Err(Rejection::Protocol(OutOfBounds, msg)) => assert!(msg.starts_with("plane 2"), "{msg}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn mixed_modifiers_before_v5_fail() {
    let mut p = planes(&[plane(0, 64, 1 << 20), plane(4096, 64, 1 << 20)]);
    p[1].as_mut().unwrap().modifier = MOD_INVALID;
    let r = CreateRequest {
        version: 4,
        ..req(64, 64, Fourcc::Nv12)
    };
    assert!(failed(check_create(&r, &p, false, &advertised())).contains("modifier"));
}

#[test]
fn flags() {
    let p = planes(&[plane(0, 256, 16384)]);
    let mut r = req(64, 64, Fourcc::Xrgb8888);
    r.flags = FLAG_Y_INVERT;
    assert!(check_create(&r, &p, false, &advertised()).is_ok());
    r.flags = FLAG_INTERLACED;
    assert!(failed(check_create(&r, &p, false, &advertised())).contains("interlaced"));
    r.flags = FLAG_INTERLACED | FLAG_BOTTOM_FIRST;
    assert!(failed(check_create(&r, &p, false, &advertised())).contains("interlaced"));
    r.flags = FLAG_BOTTOM_FIRST;
    assert!(failed(check_create(&r, &p, false, &advertised())).contains("interlaced"));
    r.flags = 0x80;
    assert!(failed(check_create(&r, &p, false, &advertised())).contains("unknown flags"));
}

#[test]
fn yuyv_rows_are_blocks_of_two_pixels() {
    // 3 pixels wide: 2 blocks of 4 bytes.
    let p = planes(&[plane(0, 8, 8 * 4)]);
    assert!(check_create(&req(3, 4, Fourcc::Yuyv), &p, false, &advertised()).is_ok());
    let p = planes(&[plane(0, 6, 6 * 4)]);
    assert_eq!(
        code(check_create(
            &req(3, 4, Fourcc::Yuyv),
            &p,
            false,
            &advertised()
        )),
        Some(OutOfBounds as u32)
    );
}

#[test]
fn sampling_device_is_one_dev_t() {
    let dev: u64 = 0xe200;
    assert_eq!(check_sampling_device(&dev.to_ne_bytes()), Ok(dev));
    for len in [0, 4, 7, 9, 16] {
        let err = check_sampling_device(&vec![0; len])
            .unwrap_err()
            .into_protocol();
        assert_eq!(err.0, InvalidDevTSize, "{len} bytes");
        assert_eq!(InvalidDevTSize as u32, 8);
    }
}
