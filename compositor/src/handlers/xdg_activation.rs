//! xdg_activation_v1: a client asking to activate a window with a token gets it raised to
//! the top and given keyboard focus, if the token is younger than `TOKEN_MAX_AGE`. planar
//! is a test compositor: it does not require the token to carry a recent input serial
//! (there is often no input at all), which a desktop compositor would.
//!
//! smithay keeps every committed token until it is used, whoever made it and whether or
//! not its client is still connected, each with its app_id (up to a wayland message,
//! ~4 KiB): a client looping on get_activation_token/commit grew planar without bound.
//! So tokens past `TOKEN_MAX_AGE` (useless anyway) are dropped at each new one, and one
//! client may hold `MAX_TOKENS_PER_CLIENT`, all clients `MAX_TOKENS`; a token past them is
//! still `done` (the protocol has no failure) but activates nothing.

use std::time::Duration;

use smithay::{
    delegate_xdg_activation,
    reexports::wayland_server::protocol::wl_surface::WlSurface,
    wayland::xdg_activation::{
        XdgActivationHandler, XdgActivationState, XdgActivationToken, XdgActivationTokenData,
    },
};
use tracing::{info, warn};

use crate::state::State;

/// Tokens older than this are refused (the value the protocol's examples and anvil use).
const TOKEN_MAX_AGE: Duration = Duration::from_secs(10);
/// Live tokens one client may hold (a launcher makes one per app it starts).
const MAX_TOKENS_PER_CLIENT: usize = 64;
/// Live tokens of all clients together.
const MAX_TOKENS: usize = 1024;

impl XdgActivationHandler for State {
    fn activation_state(&mut self) -> &mut XdgActivationState {
        &mut self.desktop.activation
    }

    fn token_created(&mut self, token: XdgActivationToken, data: XdgActivationTokenData) -> bool {
        let activation = &mut self.desktop.activation;
        activation.retain_tokens(|_, d| d.timestamp.elapsed() <= TOKEN_MAX_AGE);
        let total = activation.tokens().count();
        let own = activation
            .tokens()
            .filter(|(_, d)| d.client_id.is_some() && d.client_id == data.client_id)
            .count();
        if own >= MAX_TOKENS_PER_CLIENT || total >= MAX_TOKENS {
            warn!(token = %*token, client = ?data.client_id, own, total, "activation token refused: too many live tokens (at most {MAX_TOKENS_PER_CLIENT} per client, {MAX_TOKENS} in all, each valid {} s)", TOKEN_MAX_AGE.as_secs());
            return false;
        }
        true
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
        self.set_keyboard_focus(Some(surface));
        info!(token = %*token, "window activated");
        self.present();
    }
}

delegate_xdg_activation!(State);
