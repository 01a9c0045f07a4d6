// `npm run --silent signing-key`: prints a new REGISTRY_SIGNING_KEY (ECDSA P-256, PKCS#8 DER,
// base64), to pipe into `wrangler secret put REGISTRY_SIGNING_KEY` when deploying or rotating.

import { newSecret } from "./dev-vars.mjs";

console.log(newSecret("REGISTRY_SIGNING_KEY"));
