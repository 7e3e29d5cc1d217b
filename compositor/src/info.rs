//! `planar info`: the renderer that would be chosen, and what it can take.

use anyhow::Context;
use planar_renderer::{
    cpu::convert::cpu_readable,
    import::{advertise, ImportPath, ImportPolicy},
    select,
};

use crate::cli::InfoArgs;

pub fn info(args: InfoArgs) -> anyhow::Result<()> {
    let (engine, info) =
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
    // What `planar run` advertises with its default --import: the same function's answer.
    let offer = advertise::offer(&engine, &info.kind, &ImportPolicy::default(), false);
    println!("dma-buf pairs EGL lists ({}):", info.dmabuf_formats.len());
    for f in &info.dmabuf_formats {
        let path = match offer.path_of((f.code as u32, u64::from(f.modifier))) {
            Some(ImportPath::Egl) => "zero-copy",
            Some(_) => "refused by EGL when tried: CPU path",
            None => "not in planar's format table: not advertised",
        };
        println!("  {} {:?}: {path}", f.code, f.modifier);
    }
    let cpu: Vec<String> = planar_protocol::format::FORMATS
        .iter()
        .filter(|f| cpu_readable(f))
        .map(|f| f.fourcc.to_string())
        .collect();
    println!("CPU path formats ({}): {}", cpu.len(), cpu.join(" "));
    Ok(())
}
