// Builds the static page into web/dist: the app bundled with supabase-js by esbuild (from npm,
// nothing from a CDN at run time), the HTML and the CSS. `make setup` runs it; so does
// `npm run build --prefix web`. The demo clip (web/dist/demo/) is made by `make setup` too.
import { build } from 'esbuild';
import { copyFile, mkdir } from 'node:fs/promises';

const here = new URL('.', import.meta.url);
const out = new URL('./dist/', here);
await mkdir(out, { recursive: true });
await build({
  entryPoints: [new URL('./src/main.js', here).pathname],
  bundle: true,
  format: 'esm',
  target: ['es2022'],
  minify: true,
  sourcemap: true,
  legalComments: 'linked',
  outfile: new URL('./app.js', out).pathname,
  logLevel: 'warning',
});
for (const file of ['index.html', 'style.css']) await copyFile(new URL(file, here), new URL(file, out));
console.log('built web/dist');
