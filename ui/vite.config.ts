// Vite builds the console into ui/dist, which Tauri embeds (tauri.conf.json
// `frontendDist`). The window runs under a strict CSP (no inline script or
// style, no eval), so the build must emit only external JS and CSS files.
import { defineConfig } from 'vite';

export default defineConfig({
  // Relative asset URLs: Tauri serves dist/ from its own protocol root.
  base: './',
  clearScreen: false,
  // Preact's automatic JSX runtime, without a Babel-based plugin.
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  server: { host: '127.0.0.1', port: 5173, strictPort: true },
  build: {
    // WebKitGTK on current Debian/Ubuntu is at least Safari 15 level.
    target: 'safari15',
    outDir: 'dist',
    emptyOutDir: true,
    // The polyfill would be inlined into the entry; one chunk needs none.
    modulePreload: { polyfill: false },
    sourcemap: false,
  },
});
