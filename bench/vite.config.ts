import { defineConfig } from 'vite'

export default defineConfig({
  root: 'page',
  build: { target: 'es2023', outDir: '../dist', emptyOutDir: true, chunkSizeWarningLimit: 2_000 }
})
