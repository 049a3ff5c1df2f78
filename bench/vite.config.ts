import { defineConfig } from 'vite'

export default defineConfig({
  root: 'page',
  build: {
    target: 'es2023',
    outDir: '../dist',
    emptyOutDir: true,
    chunkSizeWarningLimit: 2_000,
    // BENCH_MINIFY=0 keeps function names, for BENCH_PROFILE
    minify: process.env.BENCH_MINIFY !== '0'
  }
})
