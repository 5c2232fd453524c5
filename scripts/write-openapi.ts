import { writeFileSync } from 'node:fs';
import { generateOpenApi, stableJson } from './openapi-spec.js';

// Regenerates the committed copy: npm run openapi
const doc = await generateOpenApi();
writeFileSync(new URL('../openapi/openapi.json', import.meta.url), stableJson(doc));
console.log('wrote openapi/openapi.json');
