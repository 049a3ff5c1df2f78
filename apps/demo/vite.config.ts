import { defineConfig } from 'vite'

export default defineConfig({
  build: {
    target: 'es2023',
    outDir: 'dist',
    emptyOutDir: true,
    chunkSizeWarningLimit: 2_000
  },
  server: { host: '127.0.0.1' },
  preview: { host: '127.0.0.1' }
})
