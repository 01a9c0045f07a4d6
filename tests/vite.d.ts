// Vite features the tests use: `import.meta.glob` and `?raw` imports (see architecture.test.ts).
/// <reference types="vite/client" />
