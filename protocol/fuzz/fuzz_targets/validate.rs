//! Drives linux-dmabuf validation with arbitrary params: any sequence of `add`s, then a
//! `create` with any size, format, flags and version. Validation must never panic, and
//! whatever it accepts must really fit: every plane inside its buffer.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use planar_protocol::{
    advertise::{Advertised, Tranche, MOD_INVALID, MOD_LINEAR},
    format::{FORMATS, MAX_PLANES},
    validate::{check_add, check_create, CreateRequest, Plane},
};

#[derive(Arbitrary, Debug)]
struct Add {
    plane_idx: u32,
    offset: u32,
    stride: u32,
    modifier: u64,
    size: Option<u64>,
}

#[derive(Arbitrary, Debug)]
struct Input {
    adds: Vec<Add>,
    width: i32,
    height: i32,
    format_pick: u16,
    raw_format: Option<u32>,
    flags: u32,
    version: u8,
    used: bool,
}

fuzz_target!(|input: Input| {
    let advertised = Advertised {
        main_device: 0,
        tranches: vec![Tranche {
            device: 0,
            flags: 0,
            formats: FORMATS
                .iter()
                .flat_map(|f| [(f.fourcc as u32, MOD_LINEAR), (f.fourcc as u32, MOD_INVALID)])
                .collect(),
        }],
    };
    let version = u32::from(input.version % 6);
    let mut planes = [None; MAX_PLANES];
    for add in input.adds.iter().take(8) {
        if check_add(&planes, input.used, add.plane_idx, add.modifier, version).is_ok() {
            planes[add.plane_idx as usize] = Some(Plane {
                offset: add.offset,
                stride: add.stride,
                modifier: add.modifier,
                size: add.size,
            });
        }
    }
    let format = input
        .raw_format
        .unwrap_or(FORMATS[usize::from(input.format_pick) % FORMATS.len()].fourcc as u32);
    let req = CreateRequest {
        width: input.width,
        height: input.height,
        format,
        flags: input.flags,
        version,
    };
    if let Ok(info) = check_create(&req, &planes, input.used, &advertised) {
        for (i, p) in planes.iter().take(usize::from(info.planes)).enumerate() {
            let p = p.expect("accepted buffers have every plane");
            let rows = u64::from(info.plane_height(i, req.height as u32));
            let end = u64::from(p.offset) + u64::from(p.stride) * rows;
            match p.size {
                Some(size) => assert!(end <= size, "accepted plane {i} ends at {end} past {size}"),
                None => assert!(end <= u64::from(u32::MAX)),
            }
            assert!(req.width > 0 && req.height > 0);
        }
    }
});
