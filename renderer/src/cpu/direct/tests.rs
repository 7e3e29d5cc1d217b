//! Unit tests of the clipped conversion into a target.

use super::*;
use crate::cpu::convert::{convert_rows_to, tests::each_cpu_format, Matrix};

/// What the target's untouched bytes hold: a conversion that wrote outside its rectangle
/// shows as a pixel that is neither this nor the whole-frame conversion's.
const FILL: u8 = 0x5a;

/// A buffer rectangle (x, y, w, h) and its place in the target.
type Case = ((i32, i32, i32, i32), (usize, usize));

/// Converts every rectangle of `rects` (buffer rectangle, place) of a `w` x `h` image
/// into a `tw` x `th` target filled with FILL, and checks every target pixel against the
/// whole-frame conversion of the same planes: inside a rectangle its pixel, elsewhere
/// FILL. Every CPU format, y-inverted or not.
/// Returns the most memory rows one conversion converted.
fn check(w: usize, h: usize, (tw, th): (usize, usize), rects: &[Case]) -> usize {
    let mut most = 0;
    let enc = YuvEncoding {
        matrix: Matrix::Bt709,
        full_range: false,
    };
    each_cpu_format(w, h, 0x1234_5678, |info, conv, planes| {
        // The whole frame in memory order, as the copy frame gets it.
        let mut whole = vec![0u8; w * h * 4];
        convert_rows_to(conv, planes, w, 0..h, enc, Order::Bgra, &mut whole).unwrap();
        for y_invert in [false, true] {
            let spec = Spec {
                conv,
                encoding: (enc, Order::Bgra),
                size: (w, h),
                vsub: if info.yuv { usize::from(info.vsub) } else { 1 },
                y_invert,
            };
            let stride = tw * 4;
            let mut target = vec![FILL; stride * th];
            let mut want = target.clone();
            let mut scratch = Vec::new();
            let placed: Vec<Placed> = rects
                .iter()
                .map(|&((x, y, rw, rh), at)| Placed {
                    src: Rectangle::new((x, y).into(), (rw, rh).into()),
                    at,
                })
                .collect();
            let rows =
                convert_rects(&spec, planes, &placed, (&mut target, stride), &mut scratch).unwrap();
            most = most.max(rows);
            for &((x, y, rw, rh), at) in rects {
                for i in 0..rh as usize {
                    // Image row y + i is memory row h - 1 - (y + i) when y-inverted.
                    let image = y as usize + i;
                    let mem = if y_invert { h - 1 - image } else { image };
                    let from = &whole[mem * w * 4..][x as usize * 4..(x + rw) as usize * 4];
                    let to = (at.1 + i) * stride + at.0 * 4;
                    want[to..to + from.len()].copy_from_slice(from);
                }
            }
            let name = format!("{} {w}x{h} y_invert {y_invert}", info.name);
            if target != want {
                let px = target
                    .chunks(4)
                    .zip(want.chunks(4))
                    .position(|(a, b)| a != b)
                    .unwrap();
                panic!("{name}: first wrong pixel at ({}, {})", px % tw, px / tw);
            }
        }
    });
    most
}

/// A rectangle in the middle, starting on odd columns and rows (inside 4:2:0 chroma
/// pairs), another in the same rows, and one of whole rows: only their pixels are
/// written, each the whole-frame conversion's.
#[test]
fn clipped_rects_are_the_whole_frame_conversion() {
    check(
        37,
        21,
        (60, 40),
        &[
            ((3, 5, 17, 9), (7, 2)),
            ((21, 5, 4, 3), (40, 30)),
            ((0, 11, 37, 7), (20, 15)),
        ],
    );
}

/// Damage cut into many narrow pieces of the same rows (what smithay leaves of a
/// window's damage around small opaque windows above it) converts those rows once.
#[test]
fn narrow_pieces_of_the_same_rows_convert_them_once() {
    let pieces: Vec<Case> = (0..6)
        .map(|i| ((i * 6, 4, 3, 8), (i as usize * 5, 1)))
        .collect();
    let most = check(37, 21, (40, 12), &pieces);
    // Rows 4..12, widened to whole 4:2:0 rows at most: not six times over.
    assert!(most <= 10, "{most} rows converted for 8 rows of damage");
}

/// Whole rows starting and ending on chroma rows go straight into the target, with the
/// target's stride; at the target's last row (no whole stride left after it) the rest
/// goes through the scratch band.
#[test]
fn whole_rows_straight_in_and_at_the_targets_end() {
    let (w, h) = (32, 24);
    // Rows 2..20, straight in at the top-left corner.
    check(w, h, (50, 30), &[((0, 2, 32, 18), (0, 0))]);
    // All rows, ending on the target's last row, to the right: its last row has fewer
    // than a stride's bytes after its start.
    check(w, h, (50, 24), &[((0, 0, 32, 24), (18, 0))]);
    // Odd height: the last 4:2:0 row is alone.
    check(30, 17, (30, 17), &[((0, 0, 30, 17), (0, 0))]);
}

/// Rectangles are cut to the image; damage is cut to the element and the target.
#[test]
fn placements_are_clipped_to_element_and_target() {
    let dst = Rectangle::<i32, Physical>::new((10, 20).into(), (100, 50).into());
    let damage = [
        Rectangle::new((5, 5).into(), (10, 10).into()),
        // Past the element's right edge and the target's bottom.
        Rectangle::new((90, 40).into(), (30, 30).into()),
        // Outside the element.
        Rectangle::new((200, 0).into(), (5, 5).into()),
    ];
    let placed = placements((4, 6).into(), dst, &damage, (105, 65).into());
    assert_eq!(
        placed,
        vec![
            Placed {
                src: Rectangle::new((9, 11).into(), (10, 10).into()),
                at: (15, 25),
            },
            Placed {
                src: Rectangle::new((94, 46).into(), (5, 5).into()),
                at: (100, 60),
            },
        ]
    );
}

/// An element partly off the target's top-left: only what is on the target is placed,
/// from the matching buffer pixels.
#[test]
fn placements_off_the_top_left_start_inside_the_buffer() {
    let dst = Rectangle::<i32, Physical>::new((-10, -5).into(), (40, 30).into());
    let damage = [Rectangle::new((0, 0).into(), (40, 30).into())];
    let placed = placements((2, 3).into(), dst, &damage, (100, 100).into());
    assert_eq!(
        placed,
        vec![Placed {
            src: Rectangle::new((12, 8).into(), (30, 25).into()),
            at: (0, 0),
        }]
    );
}

#[test]
fn spans_take_in_one_another() {
    assert_eq!(span(0..0, 3..5), 3..5);
    assert_eq!(span(3..5, 7..7), 3..5);
    assert_eq!(span(3..5, 8..9), 3..9);
}
