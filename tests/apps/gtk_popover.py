#!/usr/bin/python3
"""A GTK 4 window with a menu button for planar's popup tests, no decorations.

The window is 400x240 at the output's top-left: a menu button fills its top 40 rows;
pressing it opens a popover (an xdg_popup) below it, whose contents are pure red
(rgb 255, 0, 0) around one button, "Pick me". It prints one line per thing that happens,
flushed at once: `ready`, `opened` and `closed` as the popover shows and hides, `picked`
when the popover's button is clicked (the popover then closes). Animations are off so
that two runs draw the same pixels.

Run with the system Python (python3-gi and gir1.2-gtk-4.0 from Debian).
"""

import sys

import gi

gi.require_version("Gtk", "4.0")
gi.require_version("Gdk", "4.0")
from gi.repository import Gdk, GLib, Gtk  # noqa: E402

CSS = b"""
popover.planar-red > contents { background-color: rgb(255, 0, 0); padding: 20px; }
"""


def say(line):
    print(line, flush=True)


def main():
    Gtk.init()
    settings = Gtk.Settings.get_default()
    settings.set_property("gtk-enable-animations", False)
    settings.set_property("gtk-cursor-blink", False)
    css = Gtk.CssProvider()
    css.load_from_data(CSS)
    Gtk.StyleContext.add_provider_for_display(
        Gdk.Display.get_default(), css, Gtk.STYLE_PROVIDER_PRIORITY_APPLICATION
    )

    loop = GLib.MainLoop()
    window = Gtk.Window(title="planar popover")
    window.set_decorated(False)
    window.set_default_size(400, 240)
    window.set_resizable(False)

    popover = Gtk.Popover()
    popover.add_css_class("planar-red")
    pick = Gtk.Button(label="Pick me")

    def on_pick(_b):
        say("picked")
        popover.popdown()

    pick.connect("clicked", on_pick)
    popover.set_child(pick)
    popover.connect("show", lambda _p: say("opened"))
    popover.connect("closed", lambda _p: say("closed"))

    menu = Gtk.MenuButton(label="Menu")
    menu.set_popover(popover)
    menu.set_size_request(400, 40)
    box = Gtk.Box(orientation=Gtk.Orientation.VERTICAL)
    box.append(menu)
    window.set_child(box)

    window.connect("close-request", lambda _w: loop.quit() or False)
    window.present()
    GLib.idle_add(lambda: say("ready") or False)
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
