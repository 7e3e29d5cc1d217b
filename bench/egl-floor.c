// The floor of a screenshot test on llvmpipe, for bench/throughput: what any GL
// compositor pays before it does anything of its own. Opens the software EGL device's
// display (loading Mesa and LLVM), makes a GLES 3 context, clears a 640x480 texture
// framebuffer with glClear (no shader to compile) and reads it back with glReadPixels.
// No Wayland, no client, no PNG. Exits 0 when the read pixel has the clear colour.
#include <EGL/egl.h>
#include <EGL/eglext.h>
#include <GLES3/gl3.h>
#include <stdio.h>
#include <string.h>

static unsigned char pixels[640 * 480 * 4];

int main(void) {
    PFNEGLQUERYDEVICESEXTPROC query_devices =
        (PFNEGLQUERYDEVICESEXTPROC)eglGetProcAddress("eglQueryDevicesEXT");
    PFNEGLQUERYDEVICESTRINGEXTPROC device_string =
        (PFNEGLQUERYDEVICESTRINGEXTPROC)eglGetProcAddress("eglQueryDeviceStringEXT");
    if (!query_devices || !device_string) {
        fprintf(stderr, "egl-floor: no EGL_EXT_device_enumeration\n");
        return 1;
    }
    EGLDeviceEXT devices[16], software = NULL;
    EGLint count = 0;
    query_devices(16, devices, &count);
    for (EGLint i = 0; i < count; i++) {
        const char *ext = device_string(devices[i], EGL_EXTENSIONS);
        if (ext && strstr(ext, "EGL_MESA_device_software"))
            software = devices[i];
    }
    if (!software) {
        fprintf(stderr, "egl-floor: no software EGL device\n");
        return 1;
    }
    EGLDisplay display = eglGetPlatformDisplay(EGL_PLATFORM_DEVICE_EXT, software, NULL);
    if (!eglInitialize(display, NULL, NULL) || !eglBindAPI(EGL_OPENGL_ES_API)) {
        fprintf(stderr, "egl-floor: eglInitialize failed\n");
        return 1;
    }
    const EGLint attributes[] = {EGL_CONTEXT_MAJOR_VERSION, 3, EGL_NONE};
    EGLContext context = eglCreateContext(display, EGL_NO_CONFIG_KHR, EGL_NO_CONTEXT, attributes);
    if (!context || !eglMakeCurrent(display, EGL_NO_SURFACE, EGL_NO_SURFACE, context)) {
        fprintf(stderr, "egl-floor: no GLES 3 context\n");
        return 1;
    }
    GLuint texture, framebuffer;
    glGenTextures(1, &texture);
    glBindTexture(GL_TEXTURE_2D, texture);
    glTexImage2D(GL_TEXTURE_2D, 0, GL_RGBA, 640, 480, 0, GL_RGBA, GL_UNSIGNED_BYTE, NULL);
    glGenFramebuffers(1, &framebuffer);
    glBindFramebuffer(GL_FRAMEBUFFER, framebuffer);
    glFramebufferTexture2D(GL_FRAMEBUFFER, GL_COLOR_ATTACHMENT0, GL_TEXTURE_2D, texture, 0);
    glClearColor(0.125f, 0.125f, 0.1875f, 1.0f);
    glClear(GL_COLOR_BUFFER_BIT);
    glReadPixels(0, 0, 640, 480, GL_RGBA, GL_UNSIGNED_BYTE, pixels);
    if (pixels[0] != 32 || pixels[2] != 48) {
        fprintf(stderr, "egl-floor: read %u,%u,%u\n", pixels[0], pixels[1], pixels[2]);
        return 1;
    }
    return 0;
}
