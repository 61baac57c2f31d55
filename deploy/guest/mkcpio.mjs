// Writes a newc cpio archive of a directory deterministically (sorted paths, inode = index, owner
// 0:0, mtime 0), so the same initramfs tree always gives the same bytes (busybox cpio copies the
// build tree's inode numbers). usage: node mkcpio.mjs <dir> > out.cpio
import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';

const root = process.argv[2];
const paths = [];
(function walk(rel) {
  for (const n of readdirSync(join(root, rel)).sort()) {
    const p = rel ? `${rel}/${n}` : n;
    paths.push(p);
    if (lstatSync(join(root, p)).isDirectory()) walk(p);
  }
})('');
paths.sort();

const chunks = [];
const hex = (n) => n.toString(16).padStart(8, '0');
function entry(name, mode, data, ino, nlink) {
  const nameBuf = Buffer.from(name + '\0');
  const fields = [ino, mode, 0, 0, nlink, 0, data.length, 0, 0, 0, 0, nameBuf.length, 0];
  const header = Buffer.from('070701' + fields.map(hex).join(''));
  const pad = (len) => Buffer.alloc((4 - (len % 4)) % 4);
  chunks.push(header, nameBuf, pad(header.length + nameBuf.length), data, pad(data.length));
}
paths.forEach((p, i) => {
  const st = lstatSync(join(root, p));
  const data = st.isSymbolicLink() ? Buffer.from(readlinkSync(join(root, p))) : st.isFile() ? readFileSync(join(root, p)) : Buffer.alloc(0);
  entry(p, st.mode, data, i + 1, st.isDirectory() ? 2 : 1);
});
entry('TRAILER!!!', 0, Buffer.alloc(0), 0, 1);
process.stdout.write(Buffer.concat(chunks));
