//! `planar info`: the renderer that would be chosen, and what it can take.

use anyhow::Context;
use planar_renderer::select;

use crate::cli::InfoArgs;

pub fn info(args: InfoArgs) -> anyhow::Result<()> {
    let (_engine, info) =
        select(args.renderer.renderer, (64, 64).into()).context("error creating the renderer")?;
    println!("renderer: {}", info.kind);
    for step in &info.steps {
        println!("  selection: {step}");
    }
    let unknown = || "-".to_string();
    println!(
        "egl vendor: {}",
        info.egl_vendor.clone().unwrap_or_else(unknown)
    );
    println!(
        "egl version: {}",
        info.egl_version.clone().unwrap_or_else(unknown)
    );
    println!(
        "gl renderer: {}",
        info.gl_renderer.clone().unwrap_or_else(unknown)
    );
    let shm: Vec<String> = info.shm_formats.iter().map(|f| f.to_string()).collect();
    println!("wl_shm formats ({}): {}", shm.len(), shm.join(" "));
    println!("dma-buf formats ({} pairs):", info.dmabuf_formats.len());
    for f in &info.dmabuf_formats {
        println!("  {} {:?}", f.code, f.modifier);
    }
    Ok(())
}
