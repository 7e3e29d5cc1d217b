//! xdg_popup: a popup (menu, popover, tooltip) is in the screenshot above its parent, at
//! the place its positioner gives (kept on the output where its constraint adjustment
//! allows), its frame callbacks are answered, and it goes away with `destroy` or with its
//! parent. Real wayland-client clients against a planar server.

use std::time::Duration;

use planar_image::RgbaImage;
use planar_tests::{
    fixture::{gtk_unavailable, planar_run, roundtrip_error, runtime_dir, skip, Server},
    popup::{Place, Popup},
    shm_client::{self, shm_buffer, ShmClientConfig},
    test_client::PlanarTest,
    window::Window,
};
use wayland_client::{protocol::wl_buffer::WlBuffer, protocol::wl_shm::WlShm, Proxy};
use wayland_protocols::xdg::shell::client::xdg_positioner::{
    Anchor, ConstraintAdjustment, Gravity,
};

const W: i32 = 320;
const H: i32 = 240;
const BACKGROUND: [u8; 3] = [32, 32, 48];
const RED: [u8; 3] = [255, 0, 0];
const GREEN: [u8; 3] = [0, 255, 0];
const BLUE: [u8; 3] = [0, 0, 255];
const YELLOW: [u8; 3] = [255, 255, 0];
/// Where the GTK popover's button is (output coordinates).
const PICK_X: i32 = 200;
const PICK_Y: i32 = 90;

fn server() -> Server {
    let size = format!("{W}x{H}");
    Server::start(&[
        "--renderer",
        "pixman",
        "--size",
        &size,
        "--allow-capture",
        "all",
        "--allow-input",
        "all",
    ])
    .expect("planar starts")
}

/// A `w` x `h` XRGB8888 wl_shm buffer of one colour.
fn solid(window: &Window, w: i32, h: i32, [r, g, b]: [u8; 3]) -> WlBuffer {
    let shm: WlShm = window
        .globals
        .bind(window.queue_handle(), 1..=1, ())
        .unwrap();
    let bytes: Vec<u8> = (0..w * h).flat_map(|_| [b, g, r, 255]).collect();
    shm_buffer(
        &shm,
        window.queue_handle(),
        w as u32,
        h as u32,
        w as u32 * 4,
        &bytes,
    )
    .unwrap()
}

/// A toplevel showing a 100x80 red buffer (at the output's top-left).
fn red_window(server: &Server) -> Window {
    let conn = server.connect().unwrap();
    let mut window = Window::new(&conn, "popups").unwrap();
    let buffer = solid(&window, 100, 80, RED);
    window.show(&buffer, 100, None, 80);
    window.wait_presented().unwrap();
    window
}

/// A popup of `parent` at `place`, showing its colour; returns once it is presented.
fn shown_popup(
    window: &mut Window,
    parent: &wayland_protocols::xdg::shell::client::xdg_surface::XdgSurface,
    place: Place,
    colour: [u8; 3],
) -> Popup {
    let popup = window.popup(parent, place).unwrap();
    let buffer = solid(window, place.width, place.height, colour);
    let frames = window.popup_frames(&popup);
    window.show_popup(&popup, &buffer);
    window.wait_popup_frames(&popup, frames + 1).unwrap();
    popup
}

/// A green 80x40 menu at (60, 50) on `window`, and a blue 30x20 submenu at (20, 10) in it.
fn menu_and_submenu(window: &mut Window) -> (Popup, Popup) {
    let parent = window.xdg_surface().clone();
    let menu = shown_popup(window, &parent, Place::at(60, 50, 80, 40), GREEN);
    let submenu = shown_popup(window, &menu.xdg_surface, Place::at(20, 10, 30, 20), BLUE);
    (menu, submenu)
}

fn capture(server: &Server) -> RgbaImage {
    let conn = server.connect().unwrap();
    let (image, _) = PlanarTest::new(&conn)
        .unwrap()
        .capture()
        .unwrap()
        .expect("capture allowed");
    image
}

fn rgb(image: &RgbaImage, x: i32, y: i32) -> [u8; 3] {
    let p = image.pixel(x as u32, y as u32);
    [p[0], p[1], p[2]]
}

/// Asserts the colour at each point, naming the first that differs.
fn assert_at(server: &Server, image: &RgbaImage, expected: &[((i32, i32), [u8; 3])]) {
    for &((x, y), colour) in expected {
        assert_eq!(
            rgb(image, x, y),
            colour,
            "at ({x}, {y}); planar's log:\n{}",
            server.log()
        );
    }
}

/// A new client still gets a window shown.
fn still_serving(server: &mut Server) {
    assert!(server.alive(), "planar died:\n{}", server.log());
    let conn = server.connect().unwrap();
    let bystander = ShmClientConfig {
        width: 20,
        height: 20,
        frames: Some(1),
        title: "bystander".into(),
    };
    shm_client::run_on(conn, &bystander).expect("a new client is served");
    assert!(server.alive(), "planar died:\n{}", server.log());
}

#[test]
fn a_popup_is_drawn_above_its_parent_at_its_place_and_goes_with_destroy() {
    let mut server = server();
    let mut window = red_window(&server);
    let parent = window.xdg_surface().clone();
    // Over the parent's bottom-right corner and past it.
    let menu = shown_popup(&mut window, &parent, Place::at(60, 50, 80, 40), GREEN);
    assert_eq!(window.popup_configure(&menu.popup), Some((60, 50, 80, 40)));
    // A submenu: relative to the menu's window geometry.
    let submenu = shown_popup(
        &mut window,
        &menu.xdg_surface,
        Place::at(20, 10, 30, 20),
        BLUE,
    );
    assert_eq!(
        window.popup_configure(&submenu.popup),
        Some((20, 10, 30, 20))
    );
    let image = capture(&server);
    assert_at(
        &server,
        &image,
        &[
            ((30, 30), RED),
            ((70, 55), GREEN),  // above the parent
            ((130, 85), GREEN), // outside the parent
            ((85, 65), BLUE),   // the submenu above the menu
            ((109, 79), BLUE),
            ((110, 80), GREEN),
            ((150, 60), BACKGROUND),
            ((200, 200), BACKGROUND),
        ],
    );
    // An animating popup: every frame callback is answered.
    let buffer = solid(&window, 80, 40, YELLOW);
    for n in 2..=4 {
        window.show_popup(&menu, &buffer);
        window.wait_popup_frames(&menu, n).unwrap();
    }
    assert_at(&server, &capture(&server), &[((70, 55), YELLOW)]);
    // Closed: the submenu, then the menu.
    submenu.destroy();
    window.conn.flush().unwrap();
    assert_at(
        &server,
        &capture(&server),
        &[((85, 65), YELLOW), ((70, 55), YELLOW)],
    );
    menu.destroy();
    window.conn.flush().unwrap();
    assert_at(
        &server,
        &capture(&server),
        &[((70, 55), RED), ((130, 85), BACKGROUND), ((30, 30), RED)],
    );
    assert_eq!(roundtrip_error(&window.conn), None);
    still_serving(&mut server);
}

#[test]
fn a_newer_popup_is_stacked_above_older_ones() {
    let server = server();
    let mut window = red_window(&server);
    let parent = window.xdg_surface().clone();
    let older = shown_popup(&mut window, &parent, Place::at(10, 10, 50, 50), GREEN);
    let newer = shown_popup(&mut window, &parent, Place::at(30, 30, 50, 50), BLUE);
    let image = capture(&server);
    assert_at(
        &server,
        &image,
        &[((20, 20), GREEN), ((40, 40), BLUE), ((70, 70), BLUE)],
    );
    // The pointer goes to the popup drawn on top where they overlap, to the older one
    // where only it is.
    window.bind_pointer().unwrap();
    let conn = server.connect().unwrap();
    let mut test = PlanarTest::new(&conn).unwrap();
    for ((x, y), want, name) in [
        ((40.0, 40.0), &newer, "newer"),
        ((15.0, 15.0), &older, "older"),
    ] {
        test.pointer_motion(None, x, y).unwrap();
        test.sync().unwrap();
        window.roundtrip().unwrap();
        assert_eq!(
            window.state().pointer_enters.last().copied(),
            Some(want.surface.id().protocol_id()),
            "the pointer at ({x}, {y}) entered {:?}, not the {name} popup's surface\n{}",
            window.state().pointer_enters,
            server.log()
        );
    }
}

#[test]
fn a_popup_off_the_output_slides_onto_it_where_allowed() {
    let server = server();
    let mut window = red_window(&server);
    let parent = window.xdg_surface().clone();
    // 40 pixels past the right edge, allowed to slide: moved to x = 320 - 60.
    let slide = Place {
        adjust: ConstraintAdjustment::SlideX | ConstraintAdjustment::SlideY,
        ..Place::at(300, 10, 60, 30)
    };
    let slid = shown_popup(&mut window, &parent, slide, GREEN);
    assert_eq!(
        window.popup_configure(&slid.popup),
        Some((W - 60, 10, 60, 30))
    );
    // Past the bottom edge too.
    let corner = Place {
        adjust: ConstraintAdjustment::SlideX | ConstraintAdjustment::SlideY,
        ..Place::at(290, 230, 20, 20)
    };
    let cornered = shown_popup(&mut window, &parent, corner, YELLOW);
    assert_eq!(
        window.popup_configure(&cornered.popup),
        Some((290, H - 20, 20, 20))
    );
    // Not allowed to: left where it asked, partly off the output.
    let stuck = shown_popup(&mut window, &parent, Place::at(300, 100, 60, 30), BLUE);
    assert_eq!(
        window.popup_configure(&stuck.popup),
        Some((300, 100, 60, 30))
    );
    let image = capture(&server);
    assert_at(
        &server,
        &image,
        &[
            ((W - 60, 20), GREEN),
            ((W - 1, 20), GREEN),
            ((W - 61, 20), BACKGROUND),
            ((295, H - 1), YELLOW),
            ((299, 110), BACKGROUND),
            ((W - 1, 110), BLUE),
        ],
    );
    // Repositioned with a positioner that may slide: it moves onto the output.
    let qh = window.queue_handle().clone();
    let wm_base: wayland_protocols::xdg::shell::client::xdg_wm_base::XdgWmBase =
        window.globals.bind(&qh, 3..=6, ()).unwrap();
    let positioner = wm_base.create_positioner(&qh, ());
    positioner.set_size(60, 30);
    positioner.set_anchor_rect(310, 150, 1, 1);
    positioner.set_anchor(Anchor::TopLeft);
    positioner.set_gravity(Gravity::BottomRight);
    positioner.set_constraint_adjustment(ConstraintAdjustment::SlideX);
    stuck.popup.reposition(&positioner, 7);
    positioner.destroy();
    while !window.state().popups.repositioned.contains(&7) {
        window.blocking_dispatch().unwrap();
    }
    window.conn.roundtrip().unwrap();
    window.dispatch_pending().unwrap();
    assert_eq!(
        window.popup_configure(&stuck.popup),
        Some((W - 60, 150, 60, 30))
    );
    // The new place takes effect with the commit after the configure is acked.
    stuck.surface.commit();
    window.conn.flush().unwrap();
    assert_at(
        &server,
        &capture(&server),
        &[((W - 60, 160), BLUE), ((W - 1, 110), BACKGROUND)],
    );
    assert_eq!(roundtrip_error(&window.conn), None);
}

#[test]
fn a_popup_whose_parent_goes_first_is_dismissed_and_nothing_breaks() {
    let mut server = server();
    // A toplevel destroyed while its popup lives.
    let mut window = red_window(&server);
    let parent = window.xdg_surface().clone();
    let menu = shown_popup(&mut window, &parent, Place::at(60, 50, 80, 40), GREEN);
    window.toplevel().destroy();
    window.conn.roundtrip().unwrap();
    window.dispatch_pending().unwrap();
    assert!(
        window.state().popups.done.contains(&menu.popup.id()),
        "the popup did not hear popup_done"
    );
    assert_at(
        &server,
        &capture(&server),
        &[((70, 55), BACKGROUND), ((130, 85), BACKGROUND)],
    );
    // The client may still commit to it and destroy it.
    menu.surface.commit();
    menu.destroy();
    assert_eq!(roundtrip_error(&window.conn), None);

    // A menu destroyed before its submenu: the submenu goes with it.
    let mut window = red_window(&server);
    let (menu, submenu) = menu_and_submenu(&mut window);
    menu.popup.destroy();
    window.conn.roundtrip().unwrap();
    window.dispatch_pending().unwrap();
    assert!(window.state().popups.done.contains(&submenu.popup.id()));
    submenu.surface.commit();
    assert_eq!(roundtrip_error(&window.conn), None);
    assert_at(
        &server,
        &capture(&server),
        &[((85, 65), RED), ((130, 85), BACKGROUND)],
    );

    // A client that disconnects with its popups shown.
    let mut window = red_window(&server);
    let _popups = menu_and_submenu(&mut window);
    drop(window);
    still_serving(&mut server);
}

#[test]
fn popups_nested_deep_at_the_far_end_of_i32_do_not_panic() {
    let mut server = server();
    let mut window = red_window(&server);
    let mut parent = window.xdg_surface().clone();
    let mut chain = Vec::new();
    // Each as far as a client can ask (planar clamps each to 2^20 from its parent); past
    // the depth planar shows, a popup is dismissed at once.
    let far = Place::at(i32::MAX, i32::MAX, 10, 10);
    let dismissed = loop {
        match window.popup(&parent, far) {
            Ok(popup) => {
                let buffer = solid(&window, 10, 10, GREEN);
                window.show_popup(&popup, &buffer);
                parent = popup.xdg_surface.clone();
                chain.push(popup);
                assert!(chain.len() <= 64, "never dismissed");
            }
            Err(_) => break chain.len() + 1,
        }
    };
    assert_eq!(dismissed, 33, "the popup dismissed for nesting too deep");
    let near = Place::at(i32::MIN, i32::MIN, 10, 10);
    let top = window.xdg_surface().clone();
    let back = window.popup(&top, near).unwrap();
    assert_eq!(
        window.popup_configure(&back.popup),
        Some((-(1 << 20), -(1 << 20), 10, 10))
    );
    assert_eq!(roundtrip_error(&window.conn), None);
    let image = capture(&server);
    assert_eq!(rgb(&image, 30, 30), RED);
    still_serving(&mut server);
}

/// A GTK 4 popover (tests/apps/gtk_popover.py), opened and used by a script's clicks: it
/// is in the screenshot while open (its contents are pure red), its button takes the
/// click (input reaches popup surfaces), and it is gone once closed.
#[test]
fn a_gtk_popover_is_shown_clicked_and_closed() {
    let name = "a_gtk_popover_is_shown_clicked_and_closed";
    if let Some(reason) = gtk_unavailable() {
        return skip(name, &reason);
    }
    let dir = runtime_dir();
    let (open, closed) = (dir.path().join("open.png"), dir.path().join("closed.png"));
    // The menu button is the window's top 40 rows; the popover opens below it, centred.
    let script = format!(
        "wait-window planar popover\n\
         click 200 20\n\
         wait-idle\n\
         screenshot {}\n\
         click {PICK_X} {PICK_Y}\n\
         wait-idle\n\
         screenshot {}\n",
        open.display(),
        closed.display()
    );
    let steps = dir.path().join("steps.txt");
    std::fs::write(&steps, script).unwrap();
    let app = concat!(env!("CARGO_MANIFEST_DIR"), "/apps/gtk_popover.py");
    let out = planar_run(
        Some(dir.path()),
        &[
            "--refresh",
            "0",
            "--clock",
            "virtual",
            "--size",
            "480x320",
            "--script",
            steps.to_str().unwrap(),
        ],
        &["env", "GSK_RENDERER=cairo", "GTK_A11Y=none", app],
        Duration::from_secs(120),
    );
    assert_eq!(out.code(), Some(0), "{}\n{}", out.stdout, out.stderr);
    let said: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(
        said,
        ["ready", "opened", "picked", "closed"],
        "{}",
        out.stderr
    );
    let red = |png: &std::path::Path| {
        let image = RgbaImage::read_png(png).unwrap();
        (0..image.height)
            .flat_map(|y| (0..image.width).map(move |x| (x, y)))
            .filter(|&(x, y)| image.pixel(x, y)[..3] == RED)
            .count()
    };
    assert!(
        red(&open) > 2000,
        "the open popover is not in the screenshot"
    );
    assert_eq!(red(&closed), 0, "the closed popover is still drawn");
}

/// A popup's dma-buf is imported at commit as a window's is: on the CPU path (forced
/// here) its rows are read, its import record counts the frames it is shown in, and it is
/// drawn at the popup's place.
#[test]
fn a_popup_showing_a_cpu_path_dma_buf_is_imported_and_drawn() {
    use planar_tests::dmabuf_client::{AddPlane, DmabufConn, Outcome};
    use planar_tests::test_client::Record;
    use std::os::fd::AsFd;
    let size = format!("{W}x{H}");
    let server = Server::start(&["--size", &size, "--import", "cpu", "--allow-capture", "all"])
        .expect("planar starts");
    let mut window = red_window(&server);
    let parent = window.xdg_surface().clone();
    let popup = window.popup(&parent, Place::at(60, 50, 40, 30)).unwrap();
    let bytes: Vec<u8> = (0..40 * 30).flat_map(|_| [0, 255, 0, 255]).collect();
    let fd = planar_tests::memfd::sealed("popup", &bytes).unwrap();
    let plane = AddPlane {
        fd: fd.as_fd(),
        plane_idx: 0,
        offset: 0,
        stride: 40 * 4,
        modifier: 0,
    };
    let xr24 = drm_fourcc::DrmFourcc::Xrgb8888 as u32;
    let mut dmabuf = DmabufConn::new(window.conn.clone(), 4).unwrap();
    let Outcome::Created(buffer) = dmabuf.create(&[plane], 40, 30, xr24, 0) else {
        panic!("the dma-buf was not created:\n{}", server.log());
    };
    window.show_popup(&popup, &buffer);
    window.wait_popup_frames(&popup, 1).unwrap();
    assert_at(
        &server,
        &capture(&server),
        &[
            ((61, 51), GREEN),
            ((99, 79), GREEN),
            ((59, 51), RED),
            ((100, 60), BACKGROUND),
        ],
    );
    // Asked on the buffer's own connection.
    let record = PlanarTest::new(&window.conn)
        .unwrap()
        .query(&buffer)
        .unwrap();
    let Record::Found { path, json, .. } = record else {
        panic!("no import record for the popup's buffer:\n{}", server.log());
    };
    assert_eq!(path, "cpu", "{json}");
    assert!(json["frames_shown"].as_u64() >= Some(1), "{json}");
}

/// Requests a buggy client may send around popups: a reposition of a popup whose parent
/// popup is gone, a grab after the popup is mapped, a popup of an xdg_surface with no
/// role yet. planar answers (or ignores) each and keeps serving.
#[test]
fn odd_popup_requests_do_not_hurt_planar() {
    use wayland_protocols::xdg::shell::client::xdg_wm_base::XdgWmBase;
    let mut server = server();
    let mut window = red_window(&server);
    let (menu, submenu) = menu_and_submenu(&mut window);
    menu.popup.destroy();
    let qh = window.queue_handle().clone();
    let wm_base: XdgWmBase = window.globals.bind(&qh, 3..=6, ()).unwrap();
    let positioner = wm_base.create_positioner(&qh, ());
    positioner.set_size(i32::MAX, 10);
    positioner.set_anchor_rect(i32::MIN, i32::MAX, 1, 1);
    positioner.set_constraint_adjustment(ConstraintAdjustment::all());
    submenu.popup.reposition(&positioner, 1);
    submenu.surface.commit();
    assert_eq!(roundtrip_error(&window.conn), None);
    window.dispatch_pending().unwrap();
    assert!(!window.state().popups.repositioned.contains(&1));

    // Every adjustment allowed, asked far off the output: placed on it.
    let far = Place {
        adjust: ConstraintAdjustment::all(),
        ..Place::at(i32::MAX, i32::MIN, 50, 50)
    };
    let parent = window.xdg_surface().clone();
    let placed = shown_popup(&mut window, &parent, far, YELLOW);
    let (x, y, w, h) = window.popup_configure(&placed.popup).unwrap();
    assert!(
        x >= 0 && y >= 0 && x + w <= W && y + h <= H,
        "{x},{y} {w}x{h}"
    );
    // A grab after mapping: xdg-shell's invalid_grab is smithay's to post; planar has no
    // grabs and ignores it.
    let seat: wayland_client::protocol::wl_seat::WlSeat =
        window.globals.bind(&qh, 1..=1, ()).unwrap();
    placed.popup.grab(&seat, 0);
    let _ = roundtrip_error(&window.conn);

    // A popup of an xdg_surface that has no role: never shown, nothing breaks.
    let conn = server.connect().unwrap();
    let mut other = Window::new(&conn, "other").unwrap();
    let qh = other.queue_handle().clone();
    let compositor: wayland_client::protocol::wl_compositor::WlCompositor =
        other.globals.bind(&qh, 1..=6, ()).unwrap();
    let wm_base: XdgWmBase = other.globals.bind(&qh, 1..=6, ()).unwrap();
    let bare = wm_base.get_xdg_surface(&compositor.create_surface(&qh, ()), &qh, ());
    let orphan = other.popup(&bare, Place::at(10, 10, 20, 20));
    assert!(
        orphan.is_err(),
        "a popup of a role-less xdg_surface was configured"
    );
    let _ = roundtrip_error(&other.conn);
    still_serving(&mut server);
}

/// `n` 10x10 popups of `parent` made at once, without waiting for anything: (surface,
/// popup) each; their events land in `window`'s state.
fn raw_popups(
    window: &Window,
    parent: &wayland_protocols::xdg::shell::client::xdg_surface::XdgSurface,
    n: usize,
) -> Vec<(
    wayland_client::protocol::wl_surface::WlSurface,
    wayland_protocols::xdg::shell::client::xdg_popup::XdgPopup,
)> {
    use wayland_client::protocol::wl_compositor::WlCompositor;
    use wayland_protocols::xdg::shell::client::xdg_wm_base::XdgWmBase;
    let qh = window.queue_handle().clone();
    let compositor: WlCompositor = window.globals.bind(&qh, 1..=6, ()).unwrap();
    let wm_base: XdgWmBase = window.globals.bind(&qh, 1..=6, ()).unwrap();
    let positioner = wm_base.create_positioner(&qh, ());
    positioner.set_size(10, 10);
    positioner.set_anchor_rect(0, 0, 1, 1);
    (0..n)
        .map(|_| {
            let surface = compositor.create_surface(&qh, ());
            let xdg = wm_base.get_xdg_surface(&surface, &qh, ());
            (surface, xdg.get_popup(Some(parent), &positioner, &qh, ()))
        })
        .collect()
}

#[test]
fn a_client_has_at_most_256_popups() {
    let mut server = server();
    let mut window = red_window(&server);
    let parent = window.xdg_surface().clone();
    let popups = raw_popups(&window, &parent, 260);
    window.roundtrip().unwrap();
    let done = &window.state().popups.done;
    let dismissed: Vec<usize> = (0..popups.len())
        .filter(|&i| done.contains(&popups[i].1.id()))
        .collect();
    assert_eq!(dismissed, vec![256, 257, 258, 259], "{}", server.log());
    // Popups that go are counted out: four destroyed, four new ones are kept.
    for (_, popup) in &popups[..4] {
        popup.destroy();
    }
    let again = raw_popups(&window, &parent, 4);
    window.roundtrip().unwrap();
    let done = &window.state().popups.done;
    assert!(
        again.iter().all(|(_, p)| !done.contains(&p.id())),
        "a popup was dismissed after four others went\n{}",
        server.log()
    );
    // The bound is the client's: a popup of its second toplevel is dismissed too.
    let mut second = Window::new(&window.conn, "second").unwrap();
    let second_parent = second.xdg_surface().clone();
    let extra = raw_popups(&second, &second_parent, 1);
    second.roundtrip().unwrap();
    assert!(
        second.state().popups.done.contains(&extra[0].1.id()),
        "a 257th popup on another toplevel of the client was not dismissed\n{}",
        server.log()
    );
    assert!(server.alive(), "planar died\n{}", server.log());
}

#[test]
fn a_popup_under_a_dismissed_popup_is_dismissed() {
    let server = server();
    let mut window = red_window(&server);
    let parent = window.xdg_surface().clone();
    let menu = shown_popup(&mut window, &parent, Place::at(10, 10, 40, 30), GREEN);
    // The toplevel goes: the menu hears popup_done but its client keeps it a while.
    window.toplevel().destroy();
    window.roundtrip().unwrap();
    assert!(window.state().popups.done.contains(&menu.popup.id()));
    // A submenu opened under it then (a client racing the dismissal) is dismissed too,
    // not shown nowhere.
    let submenu = raw_popups(&window, &menu.xdg_surface, 1);
    submenu[0].0.commit();
    window.roundtrip().unwrap();
    assert!(
        window.state().popups.done.contains(&submenu[0].1.id()),
        "{:?}\n{}",
        window.state().popups.done,
        server.log()
    );
}
#[test]
fn a_popup_hears_its_toplevels_output_scale() {
    // The toplevel fullscreen on the second output (scale 2): its popup's preferred
    // fractional scale is that output's, not the first output's.
    let server = Server::start(&[
        "--renderer",
        "pixman",
        "--output",
        "320x240",
        "--output",
        "400x300,scale=2",
    ])
    .expect("planar starts");
    let conn = server.connect().unwrap();
    let mut window = Window::new(&conn, "scaled").unwrap();
    window.take_configures();
    window.fullscreen_on(1).unwrap();
    loop {
        window.blocking_dispatch().unwrap();
        if window.take_configures().last().is_some_and(|c| c.2) {
            break;
        }
    }
    let buffer = solid(&window, 200, 150, RED);
    window.show(&buffer, 200, None, 150);
    window.wait_presented().unwrap();
    let parent = window.xdg_surface().clone();
    let popup = window.popup(&parent, Place::at(10, 10, 40, 30)).unwrap();
    window.watch_fractional_scale_of(&popup.surface).unwrap();
    let frames = window.popup_frames(&popup);
    let popup_buffer = solid(&window, 40, 30, GREEN);
    window.show_popup(&popup, &popup_buffer);
    window.wait_popup_frames(&popup, frames + 1).unwrap();
    window.roundtrip().unwrap();
    assert_eq!(
        window.state().preferred_scale,
        Some(240),
        "{}",
        server.log()
    );
}
