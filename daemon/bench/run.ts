import { formatSection, type BenchSection } from './report.js';
import { benchPolicy } from './policy.js';
import { benchClassify } from './classify.js';
import { benchShellClassify } from './shell-classify.js';
import { benchHttpClassify } from './http-classify.js';
import { benchCatalog } from './catalog.js';
import { benchMasking } from './masking.js';
import { benchHttpBody } from './http-body.js';
import { benchPostgres } from './postgres.js';
import { benchRecording } from './recording.js';
import { benchSse } from './sse.js';
import { benchSsh } from './ssh.js';
import { benchHttp } from './http.js';
import { benchEgress } from './egress.js';
import { benchKubernetes } from './kubernetes.js';
import { benchKubernetesExec } from './kubernetes-exec.js';
import { benchKubernetesPortForward } from './kubernetes-portforward.js';

/** `npm run bench`: figures, each with a baseline measured in the same run. Not a test. */
const sections: [string, () => Promise<BenchSection>][] = [
  ['policy', benchPolicy],
  ['classify', benchClassify],
  ['shell', benchShellClassify],
  ['http-classify', benchHttpClassify],
  ['catalog', benchCatalog],
  ['masking', benchMasking],
  ['http-body', benchHttpBody],
  ['recording', benchRecording],
  ['sse', benchSse],
  ['postgres', benchPostgres],
  ['ssh', benchSsh],
  ['http', benchHttp],
  ['egress', benchEgress],
  ['kubernetes', benchKubernetes],
  ['kubernetes-exec', benchKubernetesExec],
  ['kubernetes-portforward', benchKubernetesPortForward],
];

const only = process.argv.slice(2);
console.log(`airlock benchmarks — node ${process.version}, ${new Date().toISOString()}`);
for (const [name, run] of sections) {
  if (only.length > 0 && !only.includes(name)) continue;
  const section = await run();
  console.log('\n' + formatSection(section));
}
