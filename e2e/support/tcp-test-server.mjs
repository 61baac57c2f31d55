// Port-forward test peer, run inside a pod netns: "upload" answers with the sha256 and length
// of everything received (after the client half-closes); "download" sends a file and closes;
// "close" half-closes every connection at once and never reads.
import net from 'node:net';
import crypto from 'node:crypto';
import fs from 'node:fs';

const [mode, portArg, file] = process.argv.slice(2);
const srv = net.createServer({ allowHalfOpen: true }, (c) => {
  c.on('error', () => {});
  if (mode === 'close') {
    c.end(); // FIN without reading anything
    return;
  }
  if (mode === 'download') {
    fs.createReadStream(file).pipe(c);
    return;
  }
  const h = crypto.createHash('sha256');
  let n = 0;
  c.on('data', (d) => {
    h.update(d);
    n += d.length;
  });
  c.on('end', () => c.end(`${h.digest('hex')} ${n}\n`));
});
srv.listen(Number(portArg), '127.0.0.1', () => console.log('listening'));
