#!/usr/bin/python3
"""A GTK 4 form for planar's input tests: a button and an entry, no decorations.

The window is 400x200 at the output's top-left: the button fills the top half, the
entry the bottom half. It prints one line per thing that happens, flushed at once:
`ready`, `clicked`, `activated TEXT` (Return in the entry), `key NAME` for keys the
window sees, and `closing` when Escape is pressed (then it exits 0). Animations and the
cursor blink are off so that two runs draw the same pixels.

Run with the system Python (python3-gi and gir1.2-gtk-4.0 from Debian).
"""

import sys

import gi

gi.require_version("Gtk", "4.0")
gi.require_version("Gdk", "4.0")
from gi.repository import Gdk, GLib, Gtk  # noqa: E402


def say(line):
    print(line, flush=True)


def main():
    Gtk.init()
    settings = Gtk.Settings.get_default()
    settings.set_property("gtk-enable-animations", False)
    settings.set_property("gtk-cursor-blink", False)

    loop = GLib.MainLoop()
    window = Gtk.Window(title="planar form")
    window.set_decorated(False)
    window.set_default_size(400, 200)
    window.set_resizable(False)

    box = Gtk.Box(orientation=Gtk.Orientation.VERTICAL, homogeneous=True)
    button = Gtk.Button(label="Press me")
    button.connect("clicked", lambda _b: say("clicked"))
    entry = Gtk.Entry()
    entry.connect("activate", lambda e: say("activated " + e.get_text()))
    box.append(button)
    box.append(entry)
    window.set_child(box)

    keys = Gtk.EventControllerKey()
    keys.set_propagation_phase(Gtk.PropagationPhase.CAPTURE)

    def on_key(_ctl, keyval, _code, _state):
        name = Gdk.keyval_name(keyval)
        say("key " + str(name))
        if keyval == Gdk.KEY_Escape:
            say("closing")
            loop.quit()
        return False

    keys.connect("key-pressed", on_key)
    window.add_controller(keys)
    window.connect("close-request", lambda _w: loop.quit() or False)
    window.present()
    GLib.idle_add(lambda: say("ready") or False)
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
