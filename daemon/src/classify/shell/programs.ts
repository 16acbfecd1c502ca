import type { ShellClass } from './types.js';
import { literalWord } from './words.js';
import type { Word } from './words.js';

/**
 * What one program does with its arguments: the tables of the shell classifier. A program that is
 * not here is unknown: Airlock cannot tell what a program it does not know does. Wrappers (sudo,
 * env, timeout, xargs, bash -c, ...) return the command they run (`inner`) or the shell code they
 * run (`script`), which the walker classifies in turn.
 */

export interface Verdict {
  class: ShellClass;
  reasons: string[];
  /** operands the program writes (files, directories) */
  writes?: Word[];
  /** operands the program reads as files */
  reads?: Word[];
  /** a wrapper: the command it runs, under `label` */
  inner?: { words: Word[]; label: string; fromData?: boolean };
  /** shell code the program runs (`bash -c`, `su -c`, `eval`, `ssh host cmd`, `watch`), under `label` */
  script?: { code: Word; label: string };
  /** a shell that reads its commands from standard input */
  runsStdin?: string;
  /** sudo, su, doas, pkexec */
  sudo?: boolean;
  /** cd: the directory later relative paths start from */
  cd?: Word | null;
}

const read = (reason?: string, extra: Partial<Verdict> = {}): Verdict => ({ class: 'read', reasons: reason === undefined ? [] : [reason], ...extra });
const write = (reason: string, extra: Partial<Verdict> = {}): Verdict => ({ class: 'write', reasons: [reason], ...extra });
const privileged = (reason: string, extra: Partial<Verdict> = {}): Verdict => ({ class: 'privileged', reasons: [reason], ...extra });
const unknown = (reason: string, extra: Partial<Verdict> = {}): Verdict => ({ class: 'unknown', reasons: [reason], ...extra });

interface Split {
  /** option names as written without their value: `-n`, `--output` (clusters split: `-rf` gives `-r`, `-f`) */
  flags: string[];
  values: Map<string, Word>;
  operands: Word[];
}

/**
 * Options and operands the way getopt reads them. `withValue` names the options that take a value
 * (`-o`, `--output`); `stopAtFirstOperand` is for wrappers, whose command's own options follow.
 */
const NONE: ReadonlySet<string> = new Set();

export function splitArgs(args: Word[], withValue: ReadonlySet<string> = NONE, stopAtFirstOperand = false): Split {
  const flags: string[] = [];
  const values = new Map<string, Word>();
  const operands: Word[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const v = a.value;
    if (!a.literal || v === '-' || !v.startsWith('-')) {
      operands.push(a);
      if (stopAtFirstOperand) {
        operands.push(...args.slice(i + 1));
        break;
      }
      continue;
    }
    if (v === '--') {
      operands.push(...args.slice(i + 1));
      break;
    }
    if (v.startsWith('--')) {
      const eq = v.indexOf('=');
      const name = eq === -1 ? v : v.slice(0, eq);
      flags.push(name);
      if (eq !== -1) values.set(name, literalWord(v.slice(eq + 1)));
      else if (withValue.has(name) && i + 1 < args.length) values.set(name, args[++i]!);
      continue;
    }
    for (let j = 1; j < v.length; j++) {
      const name = `-${v[j]}`;
      flags.push(name);
      if (withValue.has(name)) {
        if (j + 1 < v.length) values.set(name, literalWord(v.slice(j + 1)));
        else if (i + 1 < args.length) values.set(name, args[++i]!);
        break;
      }
    }
  }
  return { flags, values, operands };
}

const has = (s: Split, ...names: string[]): boolean => names.some((n) => s.flags.includes(n));

/** The program's name as the shell looks it up: `/usr/bin/rm` and `rm` are the same program here. */
export function baseName(program: string): string {
  const slash = program.lastIndexOf('/');
  return slash === -1 ? program : program.slice(slash + 1);
}

/** Programs that only read, whatever their arguments (operands, if any, are files or names they read). */
const READS = new Set([
  'ls', 'dir', 'vdir', 'cat', 'tac', 'head', 'tail', 'less', 'more', 'grep', 'egrep', 'fgrep', 'rg', 'ag', 'zgrep', 'zcat', 'bzcat', 'xzcat', 'zless',
  'ps', 'pgrep', 'pidof', 'top', 'htop', 'df', 'du', 'free', 'uptime', 'whoami', 'id', 'groups', 'uname', 'printenv', 'echo', 'printf',
  'stat', 'file', 'wc', 'uniq', 'jq', 'yq', 'which', 'whereis', 'type', 'test', '[', 'true', 'false', ':', 'pwd', 'basename', 'dirname',
  'realpath', 'readlink', 'md5sum', 'sha1sum', 'sha224sum', 'sha256sum', 'sha384sum', 'sha512sum', 'b2sum', 'cksum', 'sum', 'cut', 'tr', 'column', 'diff', 'cmp', 'comm',
  'nl', 'od', 'hexdump', 'strings', 'rev', 'fold', 'fmt', 'paste', 'join', 'seq', 'yes', 'sleep', 'lsof', 'lsblk', 'findmnt', 'nproc',
  'lscpu', 'lsusb', 'lspci', 'lsmod', 'vmstat', 'iostat', 'mpstat', 'pidstat', 'sar', 'w', 'who', 'last', 'lastlog', 'locale', 'getent', 'dig',
  'nslookup', 'host', 'ping', 'ping6', 'traceroute', 'tracepath', 'mtr', 'ss', 'netstat', 'arp', 'tree', 'expr', 'bc', 'cal', 'look', 'tty',
  'base64', 'base32', 'basenc', 'numfmt', 'expand', 'unexpand', 'pr', 'shuf', 'tsort', 'factor', 'getconf', 'logname', 'users', 'dmesg', 'envsubst',
  'read', 'history', 'jobs', 'wait', 'shift', 'set', 'shopt', 'ulimit', 'umask', 'unalias', 'let', 'local', 'declare', 'typeset',
  'readonly', 'export', 'dirs', 'getopts', 'help', 'compgen', 'complete', 'caller', 'return', 'exit', 'break', 'continue', 'times',
  'mapfile', 'readarray', 'disown', 'bg', 'fg', 'logout', 'clear', 'reset', 'tput', 'stty', 'iconv', 'xxd', 'lsattr', 'namei', 'id', 'apropos',
  'man', 'info', 'whatis', 'timedatectl', 'hostnamectl', 'loginctl', 'localectl', 'networkctl', 'resolvectl', 'busctl', 'who', 'pstree', 'fuser', 'sensors',
  'ncdu', 'dpkg-query', 'apt-cache', 'rpm', 'diff3', 'sdiff', 'colordiff', 'vimdiff', 'md5', 'shasum', 'openssl', 'ssh-keygen', 'gpg', 'nc', 'ncat', 'telnet',
]);

const OPERAND_WRITER_VALUES: Record<string, string[]> = {
  touch: ['-r', '--reference', '-d', '--date', '-t'],
  mkdir: ['-m', '--mode', '--context'],
  truncate: ['-s', '--size', '-r', '--reference'],
  shred: ['-n', '--iterations', '-s', '--size', '--random-source'],
  mkfifo: ['-m', '--mode', '--context'],
  mknod: ['-m', '--mode', '--context'],
};

/** Programs that change files or state owned by the user (operands are the paths they write). */
const WRITES_OPERANDS = new Set(['rm', 'rmdir', 'touch', 'mkdir', 'shred', 'unlink', 'truncate', 'mkfifo', 'mknod']);

/** Programs that change the system or other users' processes: refused by the default policy. */
const PRIVILEGED = new Set([
  'reboot', 'shutdown', 'halt', 'poweroff', 'init', 'telinit', 'kill', 'pkill', 'killall', 'killall5', 'iptables', 'ip6tables', 'iptables-restore', 'ip6tables-restore',
  'nft', 'ufw', 'firewall-cmd', 'useradd', 'usermod', 'userdel', 'adduser', 'deluser', 'passwd', 'chpasswd', 'chage', 'groupadd', 'groupmod', 'groupdel', 'gpasswd',
  'addgroup', 'delgroup', 'visudo', 'sudoedit', 'umount', 'mkswap', 'swapon', 'swapoff', 'fdisk', 'sfdisk', 'cfdisk', 'parted', 'gdisk', 'sgdisk', 'wipefs', 'insmod', 'rmmod',
  'modprobe', 'depmod', 'setenforce', 'chroot', 'nsenter', 'unshare', 'ldconfig', 'losetup', 'cryptsetup', 'pvcreate', 'vgcreate', 'lvcreate', 'lvremove', 'vgremove', 'pvremove',
  'lvextend', 'lvresize', 'resize2fs', 'tune2fs', 'e2fsck', 'fsck', 'xfs_repair', 'setcap', 'chattr', 'update-alternatives', 'update-grub', 'grub-install', 'kexec', 'hwclock',
  'dpkg-reconfigure', 'systemd-run', 'machinectl', 'auditctl', 'setfacl', 'quotaon', 'quotaoff', 'sysrq', 'renice', 'tc', 'brctl', 'ethtool', 'iwconfig', 'ifup', 'ifdown', 'dhclient',
  'cpupower', 'swapaccount', 'blockdev', 'hdparm', 'mdadm', 'zpool', 'zfs', 'lxc', 'virsh', 'setsebool', 'semanage', 'restorecon', 'aa-complain', 'aa-enforce', 'apparmor_parser',
]);

/** Shells: `-c STRING` is parsed as a command line; without it they run a script file or their input. */
const SHELLS = new Set(['sh', 'bash', 'zsh', 'dash', 'ksh', 'mksh', 'ash', 'fish', 'csh', 'tcsh']);

/** Interpreters whose code Airlock does not read. */
const INTERPRETERS = new Set(['python', 'python2', 'python3', 'perl', 'ruby', 'node', 'nodejs', 'php', 'lua', 'luajit', 'Rscript', 'R', 'deno', 'bun', 'pwsh', 'powershell', 'tclsh', 'wish', 'groovy', 'scala', 'java', 'jshell', 'irb', 'ipython', 'julia', 'osascript', 'awk-script']);

/** Programs that run other programs from their own configuration or a file Airlock does not see. */
const RUNS_CODE = new Set(['make', 'gmake', 'cmake', 'ninja', 'just', 'task', 'npx', 'pnpx', 'bunx', 'ansible', 'ansible-playbook', 'terraform', 'vagrant', 'screen', 'tmux', 'expect', 'at', 'batch', 'parallel', 'gdb', 'strace', 'ltrace', 'vi', 'vim', 'nvim', 'nano', 'emacs', 'ed', 'ex', 'mysql', 'psql', 'sqlite3', 'redis-cli', 'mongo', 'mongosh', 'cqlsh', 'socat']);

/** Paths under these are the system's: writing one is privileged. */
const SYSTEM_ROOTS = ['/etc', '/boot', '/usr', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32', '/var/lib', '/var/spool/cron', '/root', '/dev', '/proc', '/sys'];
/** Device files that are no write of anything. */
export const HARMLESS_DEVICES = new Set(['/dev/null', '/dev/stdout', '/dev/stderr', '/dev/stdin', '/dev/tty', '/dev/zero', '/dev/full', '/dev/random', '/dev/urandom']);
/** Under /dev but any user's to write: shared memory and message queues. */
const USER_DEVICE_DIRS = ['/dev/shm/', '/dev/mqueue/'];

/**
 * Whether a path (absolute, normalized; possibly with glob characters) is or may be under a system
 * directory. A glob counts by the part before its first glob character: `/e*` may be `/etc`.
 */
export function isSystemPath(path: string): boolean {
  if (HARMLESS_DEVICES.has(path) || /^\/dev\/fd\/\d+$/.test(path) || USER_DEVICE_DIRS.some((d) => path.startsWith(d))) return false;
  const globAt = path.search(/[*?[]/);
  const fixed = globAt === -1 ? path : path.slice(0, globAt);
  if (globAt === -1 && (path === '/' || path === '')) return true;
  if (globAt !== -1 && fixed === '/') return true;
  return SYSTEM_ROOTS.some((root) => {
    if (globAt === -1) return path === root || path.startsWith(`${root}/`);
    // `/e*` may expand to `/etc`, `/etc/p*` to `/etc/passwd`
    return root.startsWith(fixed) || fixed.startsWith(`${root}/`) || fixed === root;
  });
}

function subcommand(s: Split): string | undefined {
  const first = s.operands[0];
  return first?.literal === true ? first.value : first === undefined ? undefined : '(dynamic)';
}

function systemctl(args: Word[]): Verdict {
  const s = splitArgs(args, new Set(['-t', '--type', '-p', '--property', '-H', '--host', '-M', '--machine', '-n', '--lines', '-o', '--output', '-s', '--signal', '--state', '--root']));
  const sub = subcommand(s) ?? 'list-units';
  const reads = new Set(['status', 'is-active', 'is-enabled', 'is-failed', 'is-system-running', 'list-units', 'list-unit-files', 'list-sockets', 'list-timers', 'list-jobs', 'list-dependencies', 'list-machines', 'show', 'cat', 'help', 'show-environment', 'get-default']);
  if (reads.has(sub)) return read();
  if (has(s, '--user')) return write(`systemctl --user ${sub} changes the user's own services`);
  return privileged(`systemctl ${sub} changes system services`);
}

function service(args: Word[]): Verdict {
  if (args.length === 0 || args[0]!.value === '--status-all') return read();
  const action = args[1];
  if (action?.literal === true && action.value === 'status') return read();
  return privileged(`service ${args.map((a) => a.value).join(' ')} changes a system service`);
}

const GIT_READS = new Set(['log', 'status', 'diff', 'show', 'branch', 'tag', 'remote', 'rev-parse', 'rev-list', 'ls-files', 'ls-tree', 'ls-remote', 'blame', 'shortlog', 'describe', 'grep', 'reflog', 'cat-file', 'config', 'help', 'version', 'whatchanged', 'name-rev', 'merge-base', 'show-ref', 'for-each-ref', 'count-objects', 'fsck', 'check-ignore', 'var', 'cherry', 'range-diff']);

function git(args: Word[]): Verdict {
  const s = splitArgs(args, new Set(['-C', '-c', '--git-dir', '--work-tree', '--namespace', '--exec-path']), true);
  const sub = subcommand(s);
  if (sub === undefined) return read();
  if (sub === '(dynamic)') return unknown('git subcommand is known only when it runs');
  const rest = splitArgs(s.operands.slice(1), new Set(['-m', '--message', '-b', '-B', '-u', '--format', '-n', '--author', '--since', '--until', '-S', '-G', '-L']));
  const restFlags = (...names: string[]): boolean => has(rest, ...names);
  if (s.values.has('-c')) {
    // `-c core.sshCommand=...`, `-c core.pager=...`, alias.x=!cmd: configuration that runs programs
    return unknown('git -c sets configuration that can run programs');
  }
  switch (sub) {
    case 'branch':
      return restFlags('-d', '-D', '--delete', '-m', '-M', '--move', '-c', '-C', '--copy', '-f', '--force', '-u', '--set-upstream-to', '--unset-upstream') || (rest.operands.length > 0 && !restFlags('--list', '-l', '--contains', '--merged', '--no-merged', '-a', '-r', '-v', '-vv', '--show-current'))
        ? write(`git branch changes branches`)
        : read();
    case 'tag':
      return rest.operands.length > 0 && !restFlags('-l', '--list', '-n', '--contains', '-v', '--verify') ? write('git tag creates or deletes a tag') : read();
    case 'remote':
      return rest.operands.length > 0 && !['show', 'get-url', '-v'].includes(rest.operands[0]!.value) ? write('git remote changes remotes') : read();
    case 'config':
      return restFlags('--get', '--get-all', '--get-regexp', '-l', '--list', '--show-origin', '--get-urlmatch') || rest.operands.length <= 1 ? read() : write('git config changes configuration');
    case 'stash':
      return rest.operands.length > 0 && ['list', 'show'].includes(rest.operands[0]!.value) ? read() : write('git stash changes the working tree');
    case 'reflog':
      return rest.operands.length > 0 && ['expire', 'delete'].includes(rest.operands[0]!.value) ? write('git reflog expire/delete removes history') : read();
    default:
      if (GIT_READS.has(sub)) return read();
      if (sub === 'fetch' || sub === 'pull' || sub === 'clone' || sub === 'commit' || sub === 'push' || sub === 'checkout' || sub === 'switch' || sub === 'reset' || sub === 'restore' || sub === 'add' || sub === 'rm' || sub === 'mv' || sub === 'merge' || sub === 'rebase' || sub === 'cherry-pick' || sub === 'revert' || sub === 'clean' || sub === 'init' || sub === 'apply' || sub === 'am' || sub === 'gc' || sub === 'prune' || sub === 'worktree' || sub === 'submodule' || sub === 'notes' || sub === 'update-ref' || sub === 'update-index' || sub === 'bisect' || sub === 'sparse-checkout' || sub === 'lfs') {
        return write(`git ${sub} changes the repository`);
      }
      // a git alias or an external git-<name> program
      return unknown(`git ${sub} is not a git command Airlock knows`);
  }
}

const DOCKER_READS = new Set(['ps', 'logs', 'inspect', 'images', 'image-ls', 'version', 'info', 'stats', 'top', 'port', 'diff', 'history', 'events', 'search', 'container-ls', 'network-ls', 'volume-ls']);

function docker(name: string, args: Word[]): Verdict {
  const s = splitArgs(args, new Set(['-H', '--host', '--context', '-c', '--config', '-l', '--log-level']), true);
  let sub = subcommand(s);
  if (sub === undefined) return read();
  if (sub === '(dynamic)') return unknown(`${name} subcommand is known only when it runs`);
  // `docker container ls`, `docker image inspect`: the object, then its verb
  if (['container', 'image', 'network', 'volume', 'system', 'compose', 'context', 'buildx', 'node', 'service', 'secret', 'config', 'plugin'].includes(sub)) {
    const verb = s.operands[1]?.value ?? 'ls';
    if (['ls', 'list', 'inspect', 'ps', 'logs', 'top', 'df', 'history', 'port', 'version', 'config', 'images'].includes(verb)) return read();
    sub = `${sub} ${verb}`;
    if (sub === 'compose exec' || sub === 'container exec') return unknown(`${name} ${sub} runs a command inside a container`);
    return write(`${name} ${sub} changes containers or images`);
  }
  if (DOCKER_READS.has(sub)) return read();
  if (sub === 'exec' || sub === 'run') {
    const rest = splitArgs(s.operands.slice(1), new Set(['-v', '--volume', '--mount', '--cap-add', '--device', '-e', '--env', '--env-file', '-p', '--publish', '--name', '-u', '--user', '-w', '--workdir', '--network', '--entrypoint', '--security-opt', '--pid', '--ipc', '-l', '--label', '--restart', '--memory', '-m', '--cpus', '--platform', '--hostname', '-h', '--add-host', '--log-driver', '--ulimit', '--tmpfs', '--gpus', '--detach-keys']));
    if (has(rest, '--privileged') || rest.values.get('--pid')?.value === 'host' || rest.values.get('--network')?.value === 'host' || rest.values.has('--cap-add') || rest.values.has('--device')) {
      return privileged(`${name} ${sub} with host access (--privileged, --pid=host, --cap-add, --device)`);
    }
    const mount = [rest.values.get('-v'), rest.values.get('--volume'), rest.values.get('--mount')].find((v) => v !== undefined && /(^|[=:,])\/(:|,|$)|docker\.sock/.test(v.value));
    if (mount !== undefined) return privileged(`${name} ${sub} mounts the host's root or the docker socket`);
    return sub === 'exec' ? unknown(`${name} exec runs a command inside a container`) : write(`${name} run starts a container`);
  }
  return write(`${name} ${sub} changes containers or images`);
}

const KUBECTL_READS = new Set(['get', 'describe', 'logs', 'top', 'explain', 'api-resources', 'api-versions', 'version', 'cluster-info', 'config', 'diff', 'events', 'auth', 'wait', 'completion', 'plugin', 'kustomize']);

function kubectl(args: Word[]): Verdict {
  const s = splitArgs(args, new Set(['-n', '--namespace', '--context', '--cluster', '--kubeconfig', '-s', '--server', '--user', '--token', '-o', '--output', '-l', '--selector', '-c', '--container', '--as', '--as-group', '-f', '--filename', '--field-selector', '--tail', '--since', '--request-timeout']));
  const sub = subcommand(s);
  if (sub === undefined) return read();
  if (sub === '(dynamic)') return unknown('kubectl subcommand is known only when it runs');
  if (sub === 'config') {
    const verb = s.operands[1]?.value;
    return verb === undefined || ['view', 'get-contexts', 'current-context', 'get-clusters', 'get-users'].includes(verb) ? read() : write(`kubectl config ${verb} changes the kubeconfig`);
  }
  if (KUBECTL_READS.has(sub)) return read();
  if (sub === 'exec' || sub === 'attach' || sub === 'debug' || sub === 'run' || sub === 'cp' || sub === 'port-forward' || sub === 'proxy') return unknown(`kubectl ${sub} reaches into the cluster's containers or network`);
  return write(`kubectl ${sub} changes cluster state`);
}

function ip(args: Word[]): Verdict {
  const s = splitArgs(args, new Set(['-n', '-netns', '-f', '-family', '-b', '-batch', '-rc']));
  const ops = s.operands.map((w) => w.value);
  if (ops.length <= 1) return read();
  const verb = ops[1]!;
  if (['show', 'list', 'ls', 'lst', 'get', 'sh', 's', 'l'].includes(verb) || verb.startsWith('sh') || verb.startsWith('li')) return read();
  return privileged(`ip ${ops[0]} ${verb} changes the network configuration`);
}

const PACKAGE_READS = new Set(['list', 'ls', 'search', 'show', 'info', 'view', 'outdated', 'audit', 'help', 'policy', 'depends', 'rdepends', 'madison', 'config', 'doctor', 'why', 'explain', 'freeze', 'check', 'version', '--version', '-v', 'query', 'provides', 'whoami', 'bin', 'prefix', 'root', 'repolist', 'history']);

/** npm, yarn, pnpm, pip: per-project packages; `run`/`exec`/`test` run code from the project. */
function packageManager(name: string, args: Word[]): Verdict {
  const s = splitArgs(args, new Set(['--prefix', '-C', '--dir', '--registry', '--cache', '-r', '--requirement', '-i', '--index-url', '-w', '--workspace', '--filter']), true);
  const sub = subcommand(s);
  if (sub === undefined) return name === 'yarn' ? write('yarn installs the project\'s packages') : read();
  if (sub === '(dynamic)') return unknown(`${name} subcommand is known only when it runs`);
  if (PACKAGE_READS.has(sub)) return read();
  if (['run', 'run-script', 'exec', 'x', 'dlx', 'test', 't', 'start', 'stop', 'restart', 'rebuild', 'create', 'init'].includes(sub)) return unknown(`${name} ${sub} runs the project's scripts`);
  // yarn <script> runs a package script
  if (name === 'yarn' && !['add', 'remove', 'install', 'upgrade', 'up', 'link', 'unlink', 'publish', 'cache', 'global', 'import', 'pack'].includes(sub)) return unknown(`yarn ${sub} runs a package script`);
  if (has(s, '-g', '--global') || s.operands.some((o) => o.value === '-g' || o.value === '--global')) return write(`${name} ${sub} -g installs globally`);
  return write(`${name} ${sub} changes installed packages`);
}

/** apt, dnf, yum, ...: system packages: installing runs their maintainer scripts as root. */
function systemPackages(name: string, args: Word[]): Verdict {
  const s = splitArgs(args, new Set(['-o', '-c', '-t', '--target-release']));
  const sub = subcommand(s);
  if (sub === undefined) return read();
  if (PACKAGE_READS.has(sub) || sub === 'list-installed' || sub === 'showpkg' || sub === 'stats' || sub === 'dump') return read();
  if (name === 'dpkg' || name === 'rpm') {
    if (has(s, '-i', '--install', '-r', '--remove', '-P', '--purge', '-e', '--erase', '-U', '--upgrade', '--configure', '-F', '--freshen')) return privileged(`${name} installs or removes system packages`);
    return read();
  }
  return privileged(`${name} ${sub} changes system packages`);
}

function curl(args: Word[]): Verdict {
  const s = splitArgs(args, new Set(['-o', '--output', '-T', '--upload-file', '-d', '--data', '--data-binary', '--data-raw', '--data-urlencode', '--json', '-F', '--form', '--form-string', '-X', '--request', '-H', '--header', '-u', '--user', '-A', '--user-agent', '-e', '--referer', '-b', '--cookie', '-c', '--cookie-jar', '-K', '--config', '-m', '--max-time', '--connect-timeout', '-x', '--proxy', '-w', '--write-out', '--retry', '-r', '--range', '-D', '--dump-header', '--cacert', '--cert', '--key', '-E', '--resolve', '--limit-rate', '--trace', '--trace-ascii', '--stderr', '--output-dir', '-z', '--time-cond']));
  const writes: Word[] = [];
  for (const o of ['-o', '--output', '-c', '--cookie-jar', '-D', '--dump-header', '--trace', '--trace-ascii', '--stderr']) {
    const v = s.values.get(o);
    if (v !== undefined && v.value !== '-') writes.push(v);
  }
  if (s.values.has('-K') || s.values.has('--config')) return unknown('curl -K reads its options from a file');
  const method = (s.values.get('-X') ?? s.values.get('--request'))?.value.toUpperCase();
  if (['-T', '--upload-file', '-d', '--data', '--data-binary', '--data-raw', '--data-urlencode', '--json', '-F', '--form', '--form-string'].some((o) => s.values.has(o))) {
    return write('curl sends data to the server (upload, form or body)', { writes });
  }
  if (method !== undefined && method !== 'GET' && method !== 'HEAD' && method !== 'OPTIONS') return write(`curl -X ${method} asks the server to change something`, { writes });
  if (has(s, '-O', '--remote-name', '--remote-name-all', '-J')) return write('curl -O saves the download as a file', { writes });
  if (writes.length > 0) return write('curl writes a file', { writes });
  return read();
}

function wget(args: Word[]): Verdict {
  const s = splitArgs(args, new Set(['-O', '--output-document', '-o', '--output-file', '-a', '--append-output', '-P', '--directory-prefix', '--post-data', '--post-file', '--body-data', '--body-file', '--method', '--header', '-U', '--user-agent', '-t', '--tries', '-T', '--timeout', '-e', '--execute', '-i', '--input-file', '--user', '--password']));
  const out = s.values.get('-O') ?? s.values.get('--output-document');
  const logs = ['-o', '--output-file', '-a', '--append-output'].map((o) => s.values.get(o)).filter((w): w is Word => w !== undefined);
  if (['--post-data', '--post-file', '--body-data', '--body-file'].some((o) => s.values.has(o))) return write('wget sends data to the server', { writes: logs });
  const method = s.values.get('--method')?.value.toUpperCase();
  if (method !== undefined && method !== 'GET' && method !== 'HEAD') return write(`wget --method ${method} asks the server to change something`, { writes: logs });
  if (has(s, '--spider') || out?.value === '-') return logs.length > 0 ? write('wget writes a log file', { writes: logs }) : read();
  if (out !== undefined) return write('wget saves the download as a file', { writes: [out, ...logs] });
  return write('wget saves the download as a file in the current directory', { writes: logs });
}

function sed(args: Word[]): Verdict {
  const s = splitArgs(args, new Set(['-e', '--expression', '-f', '--file', '-l', '--line-length']));
  const inPlace = s.flags.some((f) => f === '-i' || f === '--in-place');
  const scripts = [s.values.get('-e'), s.values.get('--expression')].filter((w): w is Word => w !== undefined);
  const hasScriptOption = scripts.length > 0 || s.values.has('-f') || s.values.has('--file');
  const files = hasScriptOption ? s.operands : s.operands.slice(1);
  const script = hasScriptOption ? scripts : s.operands.slice(0, 1);
  // sed's w/W commands and s///w write files; e runs a command (GNU)
  if (script.some((w) => !w.literal) || s.values.has('-f') || s.values.has('--file')) {
    if (inPlace) return write('sed -i edits files in place', { writes: files });
    return unknown('the sed script is known only when it runs or is in a file');
  }
  if (script.some((w) => /(^|[;\n}])\s*[0-9,$/!]*\s*e\b|\/[gpiIm0-9]*[we]\s|(^|[;\n}])\s*[0-9,$/!]*\s*[wW]\s/.test(w.value))) return unknown('the sed script writes a file or runs a command (w, W, e)');
  if (inPlace) return write('sed -i edits files in place', { writes: files });
  return read(undefined, { reads: files });
}

function awk(args: Word[]): Verdict {
  const s = splitArgs(args, new Set(['-F', '-v', '-f', '--file', '-i', '--include', '-l', '--load', '-E', '--exec']));
  if (s.values.has('-f') || s.values.has('--file') || s.values.has('-E') || s.values.has('--exec')) return unknown('the awk program is in a file');
  if (s.values.has('-l') || s.values.has('--load')) return unknown('awk loads an extension library');
  const program = s.operands[0];
  const files = s.operands.slice(1);
  const inplace = ['-i', '--include'].some((o) => s.values.get(o)?.value === 'inplace');
  if (program === undefined) return read();
  if (!program.literal) return unknown('the awk program is known only when it runs');
  // system(), pipes to or from commands and redirections inside the program
  if (/\bsystem\s*\(|\|\s*(&\s*)?"|"\s*\|\s*getline|\|&/.test(program.value)) return unknown('the awk program runs commands (system() or a pipe)');
  if (/(print|printf)[^;{}]*>/.test(program.value)) return unknown('the awk program writes to a file');
  if (inplace) return write('awk -i inplace edits files in place', { writes: files });
  return read(undefined, { reads: files });
}

function find(args: Word[]): Verdict | Verdict[] {
  // starting points come first; the expression starts at the first word that begins with - ( or !
  let i = 0;
  while (i < args.length && !(args[i]!.literal && /^[-(!]/.test(args[i]!.value) && !['-H', '-L', '-P'].includes(args[i]!.value))) i++;
  const starts = args.slice(0, i).filter((w) => !['-H', '-L', '-P'].includes(w.value));
  const verdicts: Verdict[] = [];
  const own: Verdict = read(undefined, { reads: starts });
  for (; i < args.length; i++) {
    const v = args[i]!.value;
    if (v === '-delete') {
      own.class = 'write';
      own.reasons.push('find -delete removes what it finds');
      own.writes = starts.length > 0 ? starts : [literalWord('.')];
    } else if (['-exec', '-execdir', '-ok', '-okdir'].includes(v)) {
      let j = i + 1;
      while (j < args.length && !(args[j]!.literal && (args[j]!.value === ';' || args[j]!.value === '+'))) j++;
      // `{}` alone is a path find found under its starting points; inside a longer word
      // (`sh -c "rm {}"`) it is data spliced into code
      const under = starts.length === 1 && starts[0]!.literal ? starts[0]!.value : '.';
      const inner = args.slice(i + 1, j).map((w) => (w.value === '{}' ? { ...literalWord(under), literal: starts.every((x) => x.literal) } : w.value.includes('{}') ? { ...w, literal: false } : w));
      if (inner.length > 0) verdicts.push({ class: 'read', reasons: [], inner: { words: inner, label: `find ${v}`, fromData: true } });
      i = j;
    } else if (['-fprint', '-fprint0', '-fprintf', '-fls'].includes(v) && i + 1 < args.length) {
      own.class = 'write';
      own.reasons.push(`find ${v} writes a file`);
      own.writes = [...(own.writes ?? []), args[i + 1]!];
      i++;
    }
  }
  return [own, ...verdicts];
}

function xargs(args: Word[]): Verdict {
  const s = splitArgs(args, new Set(['-a', '--arg-file', '-d', '--delimiter', '-E', '-e', '--eof', '-I', '--replace', '-L', '-l', '--max-lines', '-n', '--max-args', '-P', '--max-procs', '-s', '--max-chars', '--process-slot-var']), true);
  if (s.operands.length === 0) return read(undefined, { inner: { words: [literalWord('echo')], label: 'xargs', fromData: true } });
  // -I R: every word with R in it is filled with input data when it runs (`sh -c "{}"` runs the input)
  const replace = (s.values.get('-I') ?? s.values.get('--replace'))?.value ?? (has(s, '-i') ? '{}' : undefined);
  const words = replace === undefined || replace === '' ? s.operands : s.operands.map((w) => (w.value.includes(replace) ? { ...w, literal: false } : w));
  return read(undefined, { inner: { words, label: 'xargs', fromData: true } });
}

/** sudo and friends: always privileged; their command (if any) is classified too. */
function sudo(args: Word[]): Verdict {
  const s = splitArgs(args, new Set(['-u', '--user', '-g', '--group', '-h', '--host', '-p', '--prompt', '-C', '--close-from', '-D', '--chdir', '-R', '--chroot', '-r', '--role', '-t', '--type', '-T', '--command-timeout', '-U', '--other-user']), true);
  if (has(s, '-l', '--list', '-v', '--validate', '-k', '--reset-timestamp', '-K', '--remove-timestamp', '-V', '--version', '-h', '--help') && s.operands.length === 0) return privileged('sudo', { sudo: true });
  const user = s.values.get('-u') ?? s.values.get('--user');
  const label = user === undefined ? 'sudo' : `sudo -u ${user.value}`;
  if (s.operands.length === 0) return privileged(`${label} opens a root shell`, { sudo: true });
  if (has(s, '-e', '--edit')) return privileged('sudo -e edits files as root', { sudo: true, writes: s.operands });
  if (has(s, '-s', '--shell', '-i', '--login')) {
    // `sudo -s cmd` runs cmd through the target user's shell
    return privileged(label, { sudo: true, script: { code: literalWord(s.operands.map((w) => w.value).join(' ')), label } });
  }
  return privileged(label, { sudo: true, inner: { words: s.operands, label } });
}

function su(args: Word[]): Verdict {
  const s = splitArgs(args, new Set(['-c', '--command', '-s', '--shell', '-g', '--group', '-G', '--supp-group', '-w', '--whitelist-environment', '--session-command']));
  const code = s.values.get('-c') ?? s.values.get('--command') ?? s.values.get('--session-command');
  const user = s.operands.find((w) => w.value !== '-');
  const label = `su ${user?.value ?? 'root'}`;
  if (code === undefined) return privileged(`${label} opens a shell as another user`, { sudo: true });
  return privileged(label, { sudo: true, script: { code, label: `${label} -c` } });
}

function doas(args: Word[]): Verdict {
  const s = splitArgs(args, new Set(['-u', '-C']), true);
  if (s.operands.length === 0) return privileged('doas opens a root shell', { sudo: true });
  return privileged('doas', { sudo: true, inner: { words: s.operands, label: 'doas' } });
}

/** A sensitive variable makes every later program name mean something else (PATH) or loads code (LD_PRELOAD). */
export const SENSITIVE_VARIABLES = new Set(['PATH', 'LD_PRELOAD', 'LD_LIBRARY_PATH', 'LD_AUDIT', 'BASH_ENV', 'ENV', 'PROMPT_COMMAND', 'SHELLOPTS', 'BASHOPTS', 'PS4', 'GIT_SSH', 'GIT_SSH_COMMAND', 'GIT_EXEC_PATH', 'GIT_CONFIG_PARAMETERS', 'PAGER', 'GIT_PAGER', 'EDITOR', 'VISUAL', 'NODE_OPTIONS', 'PYTHONSTARTUP', 'PERL5OPT', 'RUBYOPT']);

function envWrapper(args: Word[]): Verdict {
  let i = 0;
  const reasons: string[] = [];
  let cls: ShellClass = 'read';
  for (; i < args.length; i++) {
    const a = args[i]!;
    if (!a.literal) break;
    if (a.value === '--') {
      i++;
      break;
    }
    if (['-C', '--chdir'].includes(a.value) || a.value.startsWith('--chdir=')) return unknown('env -C runs the command in another directory, where its relative paths point elsewhere');
    if (['-u', '--unset'].includes(a.value)) {
      i++;
      continue;
    }
    if (a.value === '-S' || a.value.startsWith('--split-string') || /^-[a-zA-Z]*S/.test(a.value)) return unknown('env -S splits a string into a command');
    if (a.value.startsWith('-')) continue;
    const eq = a.value.indexOf('=');
    if (eq > 0) {
      const name = a.value.slice(0, eq);
      if (SENSITIVE_VARIABLES.has(name)) {
        cls = 'unknown';
        reasons.push(`env sets ${name}, which changes what later programs are or load`);
      }
      continue;
    }
    break;
  }
  const rest = args.slice(i);
  if (rest.length === 0) return read();
  return { class: cls, reasons, inner: { words: rest, label: 'env' } };
}

/** Wrappers that run the rest of their words as a command after some options of their own. */
function simpleWrapper(name: string, args: Word[], withValue: string[], positional = 0): Verdict {
  const s = splitArgs(args, new Set(withValue), true);
  const rest = s.operands.slice(positional);
  if (rest.length === 0) return read();
  return read(undefined, { inner: { words: rest, label: name } });
}

function shell(name: string, args: Word[]): Verdict {
  // a shell's options end at its first operand: `bash script.sh -c x` passes -c to the script
  const s = splitArgs(args, new Set(['-o', '+o', '-O', '+O', '--rcfile', '--init-file']), true);
  const cFlag = s.flags.includes('-c');
  if (cFlag) {
    const code = s.operands[0];
    if (code === undefined) return unknown(`${name} -c without a command`);
    return read(undefined, { script: { code, label: `${name} -c` } });
  }
  if (s.operands.length > 0 && !s.flags.includes('-s')) return unknown(`${name} runs a script file Airlock cannot read (${s.operands[0]!.value})`, { reads: [s.operands[0]!] });
  if (s.flags.includes('--version') || s.flags.includes('--help')) return read();
  return read(undefined, { runsStdin: name });
}

function interpreter(name: string, args: Word[]): Verdict {
  if (args.length === 1 && args[0]!.literal && ['--version', '-V', '-v', '--help', '-h', '-version'].includes(args[0]!.value)) return read();
  const code = args.find((a) => a.literal && ['-e', '-c', '-E', '--eval', '-p', '--print', '-r'].includes(a.value));
  if (code !== undefined) return unknown(`${name} ${code.value} runs code Airlock does not read`);
  if (args.some((a) => !a.value.startsWith('-'))) return unknown(`${name} runs a program Airlock does not read`);
  return unknown(`${name} runs the code in its input`);
}

function ssh(args: Word[]): Verdict {
  const s = splitArgs(args, new Set(['-b', '-c', '-D', '-E', '-e', '-F', '-I', '-i', '-J', '-L', '-l', '-m', '-O', '-o', '-p', '-Q', '-R', '-S', '-W', '-w', '-B']), true);
  const host = s.operands[0];
  const remote = s.operands.slice(1);
  const where = host?.value ?? 'another host';
  // Airlock governs its own targets; a hop from one to another host it does not govern
  if (remote.length === 0) return unknown(`ssh ${where} opens a shell on a host Airlock does not govern`);
  const code = remote.every((w) => w.literal) ? literalWord(remote.map((w) => w.value).join(' ')) : { ...remote[0]!, literal: false };
  return unknown(`ssh ${where} runs a command on a host Airlock does not govern`, { script: { code, label: `ssh ${where}` } });
}

function tar(args: Word[]): Verdict {
  // the first word may be a bundle of letters without a dash: `tar xzf a.tgz`
  const first = args[0];
  const bundled = first !== undefined && first.literal && /^[A-Za-z]+$/.test(first.value) ? [literalWord(`-${first.value}`), ...args.slice(1)] : args;
  const s = splitArgs(bundled, new Set(['-f', '--file', '-C', '--directory', '-T', '--files-from', '-X', '--exclude-from', '-b', '-I', '--use-compress-program', '--to-command', '--info-script', '-F', '--new-volume-script', '--checkpoint-action']));
  if (['-I', '--use-compress-program', '--to-command', '--info-script', '-F', '--new-volume-script', '--checkpoint-action'].some((o) => s.values.has(o))) return unknown('tar runs a program given in its options');
  const file = s.values.get('-f') ?? s.values.get('--file');
  const dir = s.values.get('-C') ?? s.values.get('--directory');
  if (has(s, '-t', '--list')) return read(undefined, { reads: file === undefined ? [] : [file] });
  if (has(s, '-x', '--extract', '--get')) return write('tar extracts files', { writes: [dir ?? literalWord('.')], reads: file === undefined ? [] : [file] });
  if (has(s, '-c', '--create', '-r', '--append', '-u', '--update', '-A', '--catenate', '--delete')) return write('tar writes an archive', { writes: file === undefined || file.value === '-' ? [] : [file], reads: s.operands });
  return read();
}

function dd(args: Word[]): Verdict {
  const of = args.find((a) => a.value.startsWith('of='));
  if (of === undefined) return read();
  const target = { ...of, value: of.value.slice(3) };
  return write('dd writes a file', { writes: [target] });
}

function chmodLike(name: string, args: Word[]): Verdict {
  const s = splitArgs(args, new Set(['--reference', '--from']));
  // the first operand is the mode or owner unless --reference gave it
  const targets = s.values.has('--reference') ? s.operands : s.operands.slice(1);
  return write(`${name} changes permissions or ownership`, { writes: targets });
}

function copyMove(name: string, args: Word[]): Verdict {
  const s = splitArgs(args, new Set(name === 'install' ? ['-t', '--target-directory', '-S', '--suffix', '-m', '--mode', '-o', '--owner', '-g', '--group'] : ['-t', '--target-directory', '-S', '--suffix']));
  const target = s.values.get('-t') ?? s.values.get('--target-directory');
  if (target !== undefined) return write(`${name} writes files`, { writes: name === 'mv' ? [target, ...s.operands] : [target], reads: s.operands });
  if (s.operands.length === 0) return write(`${name} writes files`);
  const dest = s.operands[s.operands.length - 1]!;
  const sources = s.operands.slice(0, -1);
  if (name === 'install' && has(s, '-d', '--directory')) return write('install creates directories', { writes: s.operands });
  // mv removes its sources: writing them is what it does to them
  return write(`${name} writes files`, { writes: name === 'mv' ? [dest, ...sources] : [dest], reads: sources });
}

function crontab(args: Word[]): Verdict {
  const s = splitArgs(args, new Set(['-u']));
  if (s.values.has('-u')) return privileged("crontab -u changes another user's crontab");
  if (has(s, '-r')) return privileged('crontab -r removes every scheduled job');
  if (has(s, '-l')) return read();
  if (has(s, '-e')) return unknown('crontab -e opens an editor');
  return privileged('crontab installs scheduled commands that run later, unseen', { reads: s.operands });
}

/** Classifies one program with its arguments (already stripped of wrappers it sits under). */
export function classifyProgram(program: string, args: Word[]): Verdict[] {
  const name = baseName(program);
  const s = (): Split => splitArgs(args);
  switch (name) {
    case 'sudo':
      return [sudo(args)];
    case 'su':
      return [su(args)];
    case 'doas':
      return [doas(args)];
    case 'pkexec':
      return [privileged('pkexec', { sudo: true, inner: args.length > 0 ? { words: args.filter((a, i) => i > 0 || !a.value.startsWith('--')), label: 'pkexec' } : undefined })];
    case 'env':
      return [envWrapper(args)];
    case 'nohup':
    case 'setsid':
    case 'builtin':
      return [simpleWrapper(name, args, [])];
    case 'time':
      return [simpleWrapper(name, args, ['-f', '--format', '-o', '--output'])];
    case 'nice':
      return [simpleWrapper(name, args, ['-n', '--adjustment'])];
    case 'ionice':
      if (args.some((a) => a.value === '-p' || a.value === '-P' || a.value === '-u')) return [privileged('ionice -p changes the priority of running processes')];
      return [simpleWrapper(name, args, ['-c', '--class', '-n', '--classdata'])];
    case 'stdbuf':
      return [simpleWrapper(name, args, ['-i', '-o', '-e', '--input', '--output', '--error'])];
    case 'timeout':
      // the first operand is the duration
      return [simpleWrapper(name, args, ['-s', '--signal', '-k', '--kill-after'], 1)];
    case 'chronic':
    case 'unbuffer':
    case 'coproc':
      return [simpleWrapper(name, args, [])];
    case 'command': {
      const split = splitArgs(args, new Set(), true);
      if (has(split, '-v', '-V')) return [read()];
      return [simpleWrapper(name, args, [])];
    }
    case 'exec': {
      const split = splitArgs(args, new Set(['-a']), true);
      return [split.operands.length === 0 ? read() : read(undefined, { inner: { words: split.operands, label: 'exec' } })];
    }
    case 'watch': {
      const split = splitArgs(args, new Set(['-n', '--interval', '-d', '--differences', '-q', '--equexit', '-s', '--shotsfile']), true);
      if (split.operands.length === 0) return [read()];
      // without -x, watch joins its words and runs them with sh -c
      if (has(split, '-x', '--exec')) return [read(undefined, { inner: { words: split.operands, label: 'watch' } })];
      const code = split.operands.every((w) => w.literal) ? literalWord(split.operands.map((w) => w.value).join(' ')) : { ...split.operands[0]!, literal: false };
      return [read(undefined, { script: { code, label: 'watch' } })];
    }
    case 'xargs':
      return [xargs(args)];
    case 'find':
      return [find(args)].flat();
    case 'eval': {
      if (args.length === 0) return [read()];
      // eval joins its words with spaces and runs the result as a command line
      const code = args.every((w) => w.literal) ? literalWord(args.map((w) => w.value).join(' ')) : { ...args[0]!, literal: false };
      return [read(undefined, { script: { code, label: 'eval' } })];
    }
    case 'source':
    case '.':
      return [unknown(`${name} runs the commands in ${args[0]?.value ?? 'a file'}, which Airlock does not read`, { reads: args.slice(0, 1) })];
    case 'ssh':
      return [ssh(args)];
    case 'cd':
    case 'pushd':
      // pushd with no directory swaps the top two: where that is, the text does not say
      if (name === 'pushd' && args.every((a) => a.value.startsWith('-') || a.value.startsWith('+'))) return [read(undefined, { cd: literalWord('-') })];
      return [read(undefined, { cd: args.find((a) => !a.value.startsWith('-') || a.value === '-') ?? null })];
    case 'popd':
      return [read(undefined, { cd: literalWord('-') })];
    case 'busybox': {
      // `busybox rm -rf /` is rm
      const applet = args[0];
      if (applet === undefined || applet.value.startsWith('-')) return [read()];
      return [read(undefined, { inner: { words: args, label: 'busybox' } })];
    }
    case 'systemctl':
      return [systemctl(args)];
    case 'service':
      return [service(args)];
    case 'git':
      return [git(args)];
    case 'docker':
    case 'podman':
    case 'nerdctl':
      return [docker(name, args)];
    case 'docker-compose':
      return [docker('docker', [literalWord('compose'), ...args])];
    case 'kubectl':
    case 'oc':
      return [kubectl(args)];
    case 'helm': {
      const sub = splitArgs(args, new Set(['-n', '--namespace', '--kube-context']), true).operands[0]?.value;
      return [sub === undefined || ['list', 'ls', 'status', 'get', 'history', 'show', 'search', 'version', 'template', 'lint', 'env', 'help'].includes(sub) ? read() : write(`helm ${sub} changes cluster state`)];
    }
    case 'ip':
      return [ip(args)];
    case 'ifconfig':
    case 'route':
      return [args.filter((a) => !a.value.startsWith('-')).length > 1 ? privileged(`${name} changes the network configuration`) : read()];
    case 'hostname':
      return [s().operands.length > 0 && !has(s(), '-f', '-i', '-I', '-s', '-d', '-A') ? privileged('hostname NAME renames the host') : read()];
    case 'date':
      return [has(s(), '-s', '--set') ? privileged('date -s sets the system clock') : read()];
    case 'journalctl':
      return [s().flags.some((f) => f.startsWith('--vacuum') || f === '--rotate' || f === '--flush' || f === '--sync' || f === '--relinquish-var' || f === '--setup-keys') ? privileged('journalctl changes the system journal') : read()];
    case 'mount':
      return [args.length === 0 || (args.length === 1 && ['-l', '--list', '-h', '--help', '-V'].includes(args[0]!.value)) ? read() : privileged('mount changes mounted filesystems')];
    case 'sysctl': {
      const split = s();
      return [has(split, '-w', '--write', '-p', '--load', '--system') || split.operands.some((o) => o.value.includes('=')) ? privileged('sysctl sets kernel parameters') : read()];
    }
    case 'crontab':
      return [crontab(args)];
    case 'npm':
    case 'yarn':
    case 'pnpm':
    case 'pip':
    case 'pip3':
    case 'pipx':
    case 'gem':
    case 'cargo':
    case 'composer':
    case 'bundle':
    case 'go':
      return [packageManager(name, args)];
    case 'apt':
    case 'apt-get':
    case 'aptitude':
    case 'dnf':
    case 'yum':
    case 'zypper':
    case 'apk':
    case 'pacman':
    case 'snap':
    case 'flatpak':
    case 'dpkg':
    case 'rpm':
    case 'brew':
      if (name === 'brew') return [packageManager(name, args)];
      return [systemPackages(name, args)];
    case 'curl':
      return [curl(args)];
    case 'wget':
      return [wget(args)];
    case 'sed':
      return [sed(args)];
    case 'awk':
    case 'gawk':
    case 'mawk':
    case 'nawk':
      return [awk(args)];
    case 'sort': {
      const split = splitArgs(args, new Set(['-o', '--output', '-k', '--key', '-t', '--field-separator', '-S', '--buffer-size', '-T', '--temporary-directory', '--parallel', '--files0-from', '--compress-program']));
      if (split.values.has('--compress-program')) return [unknown('sort --compress-program runs a program')];
      const out = split.values.get('-o') ?? split.values.get('--output');
      return [out === undefined ? read(undefined, { reads: split.operands }) : write('sort -o writes a file', { writes: [out], reads: split.operands })];
    }
    case 'uniq': {
      const split = splitArgs(args, new Set(['-f', '--skip-fields', '-s', '--skip-chars', '-w', '--check-chars']));
      return [split.operands.length >= 2 ? write('uniq writes its second operand', { writes: [split.operands[1]!], reads: [split.operands[0]!] }) : read(undefined, { reads: split.operands })];
    }
    case 'tee': {
      const split = s();
      return [split.operands.length === 0 ? read() : write('tee writes files', { writes: split.operands })];
    }
    case 'dd':
      return [dd(args)];
    case 'tar':
      return [tar(args)];
    case 'unzip': {
      const split = splitArgs(args, new Set(['-d', '-x', '-P']));
      if (has(split, '-l', '-t', '-v', '-Z', '-p', '-c')) return [read()];
      return [write('unzip extracts files', { writes: [split.values.get('-d') ?? literalWord('.')], reads: split.operands.slice(0, 1) })];
    }
    case 'zip':
    case '7z':
    case 'rar':
      return [write(`${name} writes an archive`, { writes: splitArgs(args).operands.slice(0, 1) })];
    case 'gzip':
    case 'gunzip':
    case 'bzip2':
    case 'bunzip2':
    case 'xz':
    case 'unxz':
    case 'zstd':
    case 'lz4': {
      const split = s();
      if (has(split, '-c', '--stdout', '--to-stdout', '-l', '--list', '-t', '--test') || split.operands.length === 0) return [read()];
      return [write(`${name} replaces files with their (de)compressed form`, { writes: split.operands })];
    }
    case 'cp':
    case 'mv':
    case 'install':
      return [copyMove(name, args)];
    case 'ln': {
      const split = splitArgs(args, new Set(['-t', '--target-directory', '-S', '--suffix']));
      const target = split.values.get('-t') ?? split.values.get('--target-directory');
      const dest = target ?? (split.operands.length >= 2 ? split.operands[split.operands.length - 1]! : literalWord('.'));
      return [write('ln creates a link', { writes: [dest] })];
    }
    case 'rsync':
    case 'scp': {
      const split = splitArgs(args, new Set(['-e', '--rsh', '-i', '-P', '-o', '-F', '-J', '-l', '-S', '-c', '--exclude', '--include', '--filter', '-f', '--rsync-path', '--password-file', '--exclude-from', '--include-from', '--files-from', '--backup-dir', '--suffix', '--chmod', '--chown', '--log-file', '-T', '--temp-dir']));
      if (split.values.has('-e') || split.values.has('--rsh') || split.values.has('--rsync-path')) return [unknown(`${name} runs a remote shell command given in its options`)];
      const dest = split.operands[split.operands.length - 1];
      if (dest === undefined) return [read()];
      const remote = /^[^/]*:/.test(dest.value);
      return [write(`${name} copies files${remote ? ' to another host' : ''}`, { writes: remote ? [] : [dest], reads: split.operands.slice(0, -1) })];
    }
    case 'chmod':
    case 'chown':
    case 'chgrp':
      return [chmodLike(name, args)];
    case 'patch':
      return [write('patch edits files', { writes: splitArgs(args, new Set(['-p', '-i', '--input', '-d', '--directory', '-o', '--output', '-r', '-B', '-z'])).operands.slice(0, 1) })];
    case 'split':
    case 'csplit':
    case 'mktemp':
    case 'tempfile':
    case 'sponge':
      return [write(`${name} writes files`, { writes: name === 'sponge' ? s().operands : [] })];
    case 'rm':
    case 'rmdir':
    case 'touch':
    case 'mkdir':
    case 'shred':
    case 'unlink':
    case 'truncate':
    case 'mkfifo':
    case 'mknod': {
      // options that take a value differ per program: `touch -r REF` but `rm -r DIR`
      const split = splitArgs(args, new Set(OPERAND_WRITER_VALUES[name] ?? []));
      const verdict = write(`${name} changes files`, { writes: split.operands });
      if (name === 'mknod') verdict.class = 'privileged';
      return [verdict];
    }
    case 'trap': {
      // the action runs later, on a signal or at exit: it is classified as if it ran
      const split = splitArgs(args, new Set(), true);
      const action = split.operands[0];
      if (action === undefined || has(split, '-p', '-l') || action.value === '-' || action.value === '' || split.operands.length === 1) return [read()];
      return [read(undefined, { script: { code: action, label: 'trap' } })];
    }
    case 'alias':
      // in a shell with expand_aliases set, a later command name would mean something else
      return [args.some((a) => a.value.includes('=')) ? unknown('alias redefines what a command name runs') : read()];
    case 'hash':
      return [args.some((a) => a.value.startsWith('-') && a.value.includes('p')) ? unknown('hash -p sets the program a command name runs') : read()];
    case 'enable':
      return [args.length === 0 || args.every((a) => ['-a', '-p', '-s'].includes(a.value)) ? read() : unknown('enable changes or loads shell builtins')];
    case 'export':
    case 'declare':
    case 'typeset':
    case 'local':
    case 'readonly':
      return [read()];
    case 'xdg-open':
    case 'open':
      return [unknown(`${name} opens the file with whatever program is associated with it`)];
    default:
      if (name.startsWith('mkfs') || name.startsWith('fsck.') || name.startsWith('mkfs.')) return [privileged(`${name} formats or repairs a filesystem`)];
      if (PRIVILEGED.has(name)) return [privileged(`${name} changes the system`)];
      if (WRITES_OPERANDS.has(name)) return [write(`${name} changes files`, { writes: s().operands })];
      if (SHELLS.has(name)) return [shell(name, args)];
      if (INTERPRETERS.has(name) || /^python\d(\.\d+)?$/.test(name)) return [interpreter(name, args)];
      if (RUNS_CODE.has(name)) return [unknown(`${name} runs commands Airlock does not see`)];
      if (READS.has(name)) return [read(undefined, { reads: readOperands(name, args) })];
      if (program.includes('/')) return [unknown(`${program} is a program or script Airlock does not know`)];
      return [unknown(`${name} is not a program Airlock knows`)];
  }
}

/** The files a reading program names (so that policy can match on `pathsRead`). */
function readOperands(name: string, args: Word[]): Word[] {
  const fileReaders = new Set(['cat', 'tac', 'head', 'tail', 'less', 'more', 'nl', 'wc', 'stat', 'file', 'md5sum', 'sha1sum', 'sha256sum', 'sha512sum', 'strings', 'od', 'hexdump', 'xxd', 'zcat', 'bzcat', 'xzcat', 'base64', 'cut', 'diff', 'cmp', 'comm', 'paste', 'join', 'lsattr']);
  if (fileReaders.has(name)) {
    const withValue: Record<string, string[]> = { head: ['-n', '--lines', '-c', '--bytes'], tail: ['-n', '--lines', '-c', '--bytes', '-s', '--sleep-interval', '--pid'], cut: ['-d', '--delimiter', '-f', '--fields', '-c', '--characters', '-b', '--bytes'], od: ['-A', '-t', '-N', '-j', '-w'], hexdump: ['-n', '-s', '-e', '-f'], xxd: ['-l', '-s', '-c', '-g'], strings: ['-n', '-t'], nl: ['-b', '-s', '-w', '-v', '-i'], paste: ['-d'], join: ['-t', '-1', '-2', '-j', '-o'], stat: ['-c', '--format', '--printf'], base64: ['-w'] };
    return splitArgs(args, new Set(withValue[name] ?? [])).operands;
  }
  if (['grep', 'egrep', 'fgrep', 'rg', 'zgrep', 'ag'].includes(name)) {
    const s = splitArgs(args, new Set(['-e', '--regexp', '-f', '--file', '-m', '--max-count', '-A', '-B', '-C', '--context', '--include', '--exclude', '--exclude-dir', '-g', '--glob', '-t', '--type', '--color', '--colour']));
    return s.values.has('-e') || s.values.has('--regexp') || s.values.has('-f') ? s.operands : s.operands.slice(1);
  }
  return [];
}
