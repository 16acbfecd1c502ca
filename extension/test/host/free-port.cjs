// A TCP port free on 127.0.0.1 right now, for servers the tests start.
const net = require('node:net');

exports.freePort = function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
};
