//! The seat's keymap (`--keymap LAYOUT[:VARIANT]`, XKB's default without it) and the
//! reverse lookup that injected text needs: which key, with which modifier keys held,
//! produces a keysym.
//!
//! The lookup reads the keymap the seat's keyboard compiled (smithay's; a second compile
//! cost ~3 ms of every run's start-up) and asks an xkb state, for every keycode and each
//! modifier combination in order (none, Shift, AltGr, Shift+AltGr), which keysym it
//! gives: the first hit wins, lowest keycode first, so the choice is deterministic. It is
//! built the first time injected input needs it ([`LazyIndex`]): most runs never do.
//! Known limits: layout 1 of the keymap only; no dead keys or compose sequences, so a
//! character reachable only through those is "not in the keymap".

use std::{cell::OnceCell, collections::HashMap};

use smithay::input::keyboard::{keysyms, xkb, Keycode, Keysym, XkbConfig};

/// `--keymap LAYOUT[:VARIANT]`, parsed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeymapNames {
    pub layout: String,
    pub variant: String,
}

impl KeymapNames {
    pub fn parse(s: &str) -> Result<KeymapNames, String> {
        let (layout, variant) = s.split_once(':').unwrap_or((s, ""));
        let ok = |v: &str| {
            v.chars()
                .all(|c| c.is_ascii_alphanumeric() || "_-,()".contains(c))
        };
        if layout.is_empty() || !ok(layout) || !ok(variant) {
            return Err(format!(
                "{s:?} is not LAYOUT[:VARIANT] (e.g. us, de:nodeadkeys)"
            ));
        }
        Ok(KeymapNames {
            layout: layout.into(),
            variant: variant.into(),
        })
    }

    pub fn xkb_config(&self) -> XkbConfig<'_> {
        XkbConfig {
            layout: &self.layout,
            variant: &self.variant,
            ..XkbConfig::default()
        }
    }
}

/// Modifier keys a keysym needs held.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Needs {
    pub shift: bool,
    pub altgr: bool,
}

/// Where a keysym is on the keyboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyPlace {
    pub keycode: Keycode,
    pub needs: Needs,
}

/// keysym → key and modifiers, for the seat's keymap.
pub struct KeymapIndex {
    places: HashMap<u32, KeyPlace>,
}

/// The seat's [`KeymapIndex`], built on first use (`State::keymap_index`) once the seat
/// has a keyboard.
#[derive(Default)]
pub struct LazyIndex {
    pub(crate) index: OnceCell<KeymapIndex>,
    /// Whether "no keyboard" was logged.
    pub(crate) warned: bool,
}

impl KeymapIndex {
    /// The index of `keymap`.
    pub fn from_keymap(keymap: &xkb::Keymap) -> KeymapIndex {
        let mut state = xkb::State::new(keymap);
        let bit = |name: &str| {
            let index = keymap.mod_get_index(name);
            if index == xkb::MOD_INVALID {
                0
            } else {
                1u32 << index
            }
        };
        let (shift, altgr) = (bit(xkb::MOD_NAME_SHIFT), bit("Mod5"));
        let combos = [
            (0, Needs::default()),
            (
                shift,
                Needs {
                    shift: true,
                    altgr: false,
                },
            ),
            (
                altgr,
                Needs {
                    shift: false,
                    altgr: true,
                },
            ),
            (
                shift | altgr,
                Needs {
                    shift: true,
                    altgr: true,
                },
            ),
        ];
        let mut places = HashMap::new();
        for (mask, needs) in combos {
            if mask == 0 && (needs.shift || needs.altgr) {
                continue; // the keymap has no such modifier
            }
            state.update_mask(mask, 0, 0, 0, 0, 0);
            for raw in keymap.min_keycode().raw()..=keymap.max_keycode().raw() {
                let keycode = Keycode::new(raw);
                let sym = state.key_get_one_sym(keycode);
                if sym.raw() != keysyms::KEY_NoSymbol {
                    places
                        .entry(sym.raw())
                        .or_insert(KeyPlace { keycode, needs });
                }
            }
        }
        KeymapIndex { places }
    }

    /// The key producing `sym`, if the keymap has one.
    pub fn find(&self, sym: Keysym) -> Option<KeyPlace> {
        self.places.get(&sym.raw()).copied()
    }

    /// The key producing character `c`.
    pub fn find_char(&self, c: char) -> Option<KeyPlace> {
        let sym = match c {
            // Control characters have keysyms of their own keys.
            '\n' | '\r' => Keysym::from(keysyms::KEY_Return),
            '\t' => Keysym::from(keysyms::KEY_Tab),
            _ => xkb::utf32_to_keysym(c as u32),
        };
        self.find(sym)
    }

    /// The keycodes of the modifier keys (Shift_L, ISO_Level3_Shift) injected text holds.
    pub fn modifier_keys(&self) -> (Option<Keycode>, Option<Keycode>) {
        let plain = |sym: u32| {
            self.find(Keysym::from(sym))
                .filter(|p| p.needs == Needs::default())
                .map(|p| p.keycode)
        };
        (
            plain(keysyms::KEY_Shift_L),
            plain(keysyms::KEY_ISO_Level3_Shift),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse() {
        assert_eq!(
            KeymapNames::parse("de:nodeadkeys").unwrap(),
            KeymapNames {
                layout: "de".into(),
                variant: "nodeadkeys".into()
            }
        );
        assert!(KeymapNames::parse("").is_err());
        assert!(KeymapNames::parse("us;rm").is_err());
    }

    /// The keymap of `layout` compiled as the seat's keyboard compiles it (smithay's
    /// `XkbConfig::compile_keymap`), or `None` after a SKIP line for `test` when xkb-data
    /// lacks it.
    fn keymap_or_skip(layout: &str, test: &str) -> Option<xkb::Keymap> {
        let names = KeymapNames::parse(layout).unwrap();
        let config = names.xkb_config();
        let context = xkb::Context::new(xkb::CONTEXT_NO_FLAGS);
        let keymap = xkb::Keymap::new_from_names(
            &context,
            config.rules,
            config.model,
            config.layout,
            config.variant,
            config.options.clone(),
            xkb::KEYMAP_COMPILE_NO_FLAGS,
        );
        if keymap.is_none() {
            eprintln!("SKIP {test}: xkb-data has no {layout} layout");
        }
        keymap
    }

    /// The index of `layout`, or `None` after a SKIP line (see `keymap_or_skip`).
    fn layout_or_skip(layout: &str, test: &str) -> Option<KeymapIndex> {
        keymap_or_skip(layout, test).map(|k| KeymapIndex::from_keymap(&k))
    }

    /// Every place the index gives produces its keysym: with the modifiers it says held
    /// (and only those) the key gives that keysym, in every layout tried.
    #[test]
    fn every_place_produces_its_keysym() {
        for layout in ["us", "de", "fr", "de:nodeadkeys"] {
            let Some(keymap) = keymap_or_skip(layout, "every_place_produces_its_keysym") else {
                continue;
            };
            let index = KeymapIndex::from_keymap(&keymap);
            assert!(index.places.len() > 100, "{layout}: {}", index.places.len());
            let bit = |name: &str| 1u32 << keymap.mod_get_index(name);
            for (&sym, place) in &index.places {
                let mut mask = 0;
                if place.needs.shift {
                    mask |= bit(xkb::MOD_NAME_SHIFT);
                }
                if place.needs.altgr {
                    mask |= bit("Mod5");
                }
                let mut state = xkb::State::new(&keymap);
                state.update_mask(mask, 0, 0, 0, 0, 0);
                let got = state.key_get_one_sym(place.keycode).raw();
                assert_eq!(got, sym, "{layout}: {place:?}");
            }
        }
    }

    #[test]
    fn us_layout_places_characters() {
        let Some(index) = layout_or_skip("us", "us_layout_places_characters") else {
            return;
        };
        // evdev KEY_A is 30, + 8 for XKB.
        let a = index.find_char('a').unwrap();
        assert_eq!((a.keycode.raw(), a.needs), (38, Needs::default()));
        let big_a = index.find_char('A').unwrap();
        assert_eq!(big_a.keycode.raw(), 38);
        assert!(big_a.needs.shift);
        assert!(index.find_char('!').unwrap().needs.shift);
        assert_eq!(index.find_char('\n').unwrap().keycode.raw(), 36);
        assert!(index.find_char('日').is_none());
        assert_eq!(index.modifier_keys().0.map(|k| k.raw()), Some(50));
    }

    #[test]
    fn german_layout_needs_altgr_for_at() {
        let Some(index) = layout_or_skip("de", "german_layout_needs_altgr_for_at") else {
            return;
        };
        let at = index.find_char('@').unwrap();
        assert!(at.needs.altgr && !at.needs.shift, "{at:?}");
        // z and y swap places on a German keyboard.
        assert_eq!(index.find_char('z').unwrap().keycode.raw(), 29);
    }
}
