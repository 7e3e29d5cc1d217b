//! xdg_activation_v1: a client asking to activate a window with a token gets it raised to
//! the top and given keyboard focus, if the token is younger than `TOKEN_MAX_AGE`. planar
//! is a test compositor: it does not require the token to carry a recent input serial
//! (there is often no input at all), which a desktop compositor would.

use std::time::Duration;

use smithay::{
    delegate_xdg_activation,
    reexports::wayland_server::protocol::wl_surface::WlSurface,
    utils::SERIAL_COUNTER,
    wayland::xdg_activation::{
        XdgActivationHandler, XdgActivationState, XdgActivationToken, XdgActivationTokenData,
    },
};
use tracing::{info, warn};

use crate::state::State;

/// Tokens older than this are refused (the value the protocol's examples and anvil use).
const TOKEN_MAX_AGE: Duration = Duration::from_secs(10);

impl XdgActivationHandler for State {
    fn activation_state(&mut self) -> &mut XdgActivationState {
        &mut self.desktop.activation
    }

    fn request_activation(
        &mut self,
        token: XdgActivationToken,
        token_data: XdgActivationTokenData,
        surface: WlSurface,
    ) {
        self.desktop.activation.remove_token(&token);
        if token_data.timestamp.elapsed() > TOKEN_MAX_AGE {
            warn!(token = %*token, "activation refused: the token is too old");
            return;
        }
        let Some(window) = self.window_for(&surface).cloned() else {
            warn!(token = %*token, "activation refused: the surface is not a mapped toplevel");
            return;
        };
        self.space.raise_element(&window, true);
        if let Some(keyboard) = self.seat.get_keyboard() {
            keyboard.set_focus(self, Some(surface), SERIAL_COUNTER.next_serial());
        }
        info!(token = %*token, "window activated");
        self.present();
    }
}

delegate_xdg_activation!(State);
