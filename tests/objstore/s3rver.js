// Starts s3rver, the S3 emulator, for carelake's object storage test:
//   node s3rver.js PORT DIRECTORY
// on 127.0.0.1, its files in DIRECTORY, the credentials S3RVER/S3RVER;
// prints "ready" once it listens. It stops with the test (SIGTERM/KILL).
'use strict';
const S3rver = require('s3rver');

const port = Number(process.argv[2]);
const directory = process.argv[3];
new S3rver({ address: '127.0.0.1', port, directory, silent: true })
  .run()
  .then(() => console.log('ready'))
  .catch((err) => {
    console.error(err);
    process.exit(1);
  });
