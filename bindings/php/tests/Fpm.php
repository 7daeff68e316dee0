<?php

declare(strict_types=1);

namespace WxToken\Tests;

/**
 * A php-fpm of a test's own: opcache.preload + ffi.enable=preload in one of the README's
 * setups, requested through cgi-fcgi (fpm/drive.sh, each request bounded by `timeout 10`).
 * The one place the tests start, request and stop php-fpm.
 *
 * run-tests.sh says what this machine allows, in the environment:
 *   WXTOKEN_TEST_FPM_BIN      php-fpm8.x
 *   WXTOKEN_TEST_FPM_USER     the unprivileged user of the workers (www-data when the tests
 *                             run as root, else the user running them)
 *   WXTOKEN_TEST_FPM_PKG      the package directory (bindings/php) that user can read: the
 *                             checkout, or a copy when it cannot read the checkout
 *   WXTOKEN_TEST_FPM_LIB, WXTOKEN_TEST_FPM_HEADER   library and FFI header, readable by it
 *   WXTOKEN_TEST_FFI_PRELOAD  the ffi.preload header of setup A (set only when root)
 *   WXTOKEN_TEST_FPM_TMP      where instances live; run-tests.sh removes it and kills any
 *                             master left behind by its pid file
 */
final class Fpm
{
    /** @var resource|null */
    private $proc = null;
    public readonly string $dir;
    public readonly string $socket;
    public readonly string $workerUser;
    public int $masterPid = 0;

    /**
     * The setups this machine can run, by letter. A: root master, workers and preload as the
     * unprivileged user (opcache.preload_user), the FFI scope from ffi.preload. B: the master
     * itself runs as the unprivileged user, preload.php FFI::load()s the header.
     *
     * @return array<string, array{label: string, master: string, pool: ?string, flags: list<string>}>
     */
    public static function setups(): array
    {
        $user = self::env('WXTOKEN_TEST_FPM_USER');
        $setups = [];
        $ffiPreload = (string) getenv('WXTOKEN_TEST_FFI_PRELOAD');
        if ($ffiPreload !== '') {
            $setups['A'] = ['label' => 'A:root-master,ffi.preload', 'master' => 'root', 'pool' => $user,
                'flags' => ['-d', "opcache.preload_user={$user}", '-d', "ffi.preload={$ffiPreload}"]];
        }
        $setups['B'] = ['label' => "B:{$user}-master,FFI::load", 'master' => $user, 'pool' => null, 'flags' => []];
        return $setups;
    }

    /** The package directory php-fpm's users read (preload.php, src/, tests/fpm/). */
    public static function pkg(): string
    {
        return self::env('WXTOKEN_TEST_FPM_PKG');
    }

    /** A php-fpm in $setup with $workers static workers, not started yet (see start()). */
    public function __construct(public readonly array $setup, public readonly int $workers, string $tag)
    {
        $this->dir = self::env('WXTOKEN_TEST_FPM_TMP') . "/fpm-{$tag}-" . bin2hex(random_bytes(3));
        $this->socket = "{$this->dir}/fpm.sock";
        $this->workerUser = $setup['pool'] ?? $setup['master'];
        mkdir($this->dir, 0755);
        self::own($this->dir, $setup['master']);
        touch("{$this->dir}/php.log");
        self::own("{$this->dir}/php.log", $this->workerUser);
        $conf = sprintf("[global]\nerror_log = %s/fpm.log\npid = %s/fpm.pid\ndaemonize = no\n\n", $this->dir, $this->dir)
            . sprintf("[wxtoken-tests]\nlisten = %s\nlisten.mode = 0666\n", $this->socket)
            . ($setup['pool'] !== null ? sprintf("user = %s\ngroup = %s\n", $setup['pool'], self::group($setup['pool'])) : '')
            . "pm = static\npm.max_children = {$workers}\nclear_env = yes\ncatch_workers_output = yes\n"
            . "php_admin_value[error_log] = {$this->dir}/php.log\nphp_admin_flag[log_errors] = on\n"
            . "php_admin_flag[display_errors] = off\n";
        file_put_contents("{$this->dir}/fpm.conf", $conf);
    }

    /** Started with the package's preload.php, nothing else in the master's environment. */
    public static function started(array $setup, int $workers, string $tag): self
    {
        $fpm = new self($setup, $workers, $tag);
        $fpm->start();
        return $fpm;
    }

    /**
     * A private directory (mode 0700) owned by the workers' user: what the file store
     * requires of its directory (and what a barrier or a report needs).
     */
    public function dirForWorkers(string $name): string
    {
        $path = "{$this->dir}/{$name}";
        mkdir($path, 0700);
        self::own($path, $this->workerUser);
        return $path;
    }

    /**
     * Starts the master (as the setup's master user, with exactly $env + the library's
     * location in its environment: what a preload script sees) and waits for its socket.
     *
     * @param array<string, string> $env
     */
    public function start(?string $preload = null, array $env = []): void
    {
        $preload ??= self::pkg() . '/preload.php';
        $cmd = [];
        if ($this->setup['master'] !== self::me()) {
            $cmd = ['setpriv', "--reuid={$this->setup['master']}", '--regid=' . self::group($this->setup['master']), '--init-groups'];
        }
        $cmd = array_merge($cmd, [self::env('WXTOKEN_TEST_FPM_BIN'), '-F', '-y', "{$this->dir}/fpm.conf",
            '-d', 'opcache.enable=1', '-d', "opcache.preload={$preload}", '-d', 'ffi.enable=preload'], $this->setup['flags']);
        // The environment replaces the caller's (no secret on a command line).
        $env = ['PATH' => '/usr/sbin:/usr/bin:/sbin:/bin', 'TMPDIR' => $this->dir,
            'WXTOKEN_LIB' => self::env('WXTOKEN_TEST_FPM_LIB'), 'WXTOKEN_HEADER' => self::env('WXTOKEN_TEST_FPM_HEADER')] + $env;
        $out = "{$this->dir}/fpm.out";
        $proc = proc_open($cmd, [0 => ['file', '/dev/null', 'r'], 1 => ['file', $out, 'a'], 2 => ['file', $out, 'a']], $pipes, $this->dir, $env);
        if (!is_resource($proc)) {
            throw new \RuntimeException("cannot start php-fpm ({$this->setup['label']})");
        }
        $this->proc = $proc;
        $this->masterPid = proc_get_status($proc)['pid']; // setpriv and php-fpm exec: one pid
        for ($i = 0; $i < 400 && !file_exists($this->socket); $i++) {
            if (!proc_get_status($proc)['running']) {
                $this->stop();
                throw new \RuntimeException("php-fpm ({$this->setup['label']}) exited: " . $this->logs());
            }
            usleep(25_000);
        }
        if (!file_exists($this->socket)) {
            $this->stop();
            throw new \RuntimeException("php-fpm ({$this->setup['label']}) did not listen within 10 s: " . $this->logs());
        }
    }

    /** Stops the master (SIGTERM; SIGKILL after 10 s) and with it the workers. */
    public function stop(): void
    {
        if ($this->proc === null) {
            return;
        }
        $proc = $this->proc;
        $this->proc = null;
        if (proc_get_status($proc)['running']) {
            proc_terminate($proc, 15);
            for ($i = 0; $i < 400 && proc_get_status($proc)['running']; $i++) {
                usleep(25_000);
            }
            if (proc_get_status($proc)['running']) {
                proc_terminate($proc, 9);
            }
        }
        proc_close($proc);
    }

    public function __destruct()
    {
        $this->stop();
    }

    /** The master's and the workers' logs, for failure messages. */
    public function logs(): string
    {
        $text = '';
        foreach (['fpm.out', 'fpm.log', 'php.log'] as $f) {
            $t = @file_get_contents("{$this->dir}/{$f}");
            if (is_string($t) && trim($t) !== '') {
                $text .= "\n--- {$f}:\n" . substr($t, -4000);
            }
        }
        return $text;
    }

    /**
     * One request; the page's JSON answer.
     *
     * @param array<string, string> $params FastCGI parameters on top of the defaults
     * @return array<string, mixed>
     */
    public function request(array $params, string $script = 'page.php'): array
    {
        $answer = $this->drive($params, 1, 1, $script)[0];
        if ($answer['page'] === null) {
            throw new \RuntimeException("no answer from php-fpm (cgi-fcgi exit status {$answer['rc']}): {$answer['raw']}" . $this->logs());
        }
        return $answer['page'];
    }

    /**
     * $loops client loops in parallel, each sending $perLoop requests one after another.
     *
     * @param array<string, string> $params
     * @return list<array{rc: int, page: ?array, raw: string}>
     */
    public function drive(array $params, int $loops, int $perLoop, string $script = 'page.php'): array
    {
        return $this->startDrive($params, $loops, $perLoop, $script)->wait();
    }

    /** As drive(), in the background: the returned Drive's wait() collects the answers. */
    public function startDrive(array $params, int $loops, int $perLoop, string $script = 'page.php'): Drive
    {
        $out = "{$this->dir}/drive-" . bin2hex(random_bytes(4));
        mkdir($out, 0700);
        $env = $params + [
            'SCRIPT_FILENAME' => self::pkg() . "/tests/fpm/{$script}",
            'SCRIPT_NAME' => "/{$script}",
            'REQUEST_URI' => "/{$script}",
            'REQUEST_METHOD' => 'GET',
            'QUERY_STRING' => '',
            'SERVER_PROTOCOL' => 'HTTP/1.1',
            'GATEWAY_INTERFACE' => 'CGI/1.1',
            'PATH' => '/usr/bin:/bin',
        ];
        $proc = proc_open(['bash', __DIR__ . '/fpm/drive.sh', $this->socket, (string) $loops, (string) $perLoop, $out],
            [0 => ['file', '/dev/null', 'r'], 1 => ['file', "{$out}/stdout", 'w'], 2 => ['file', "{$out}/stderr", 'w']], $pipes, null, $env);
        if (!is_resource($proc)) {
            throw new \RuntimeException('cannot start fpm/drive.sh');
        }
        return new Drive($proc, $out, $loops * $perLoop);
    }

    private static function env(string $name): string
    {
        $value = (string) getenv($name);
        if ($value === '') {
            throw new \RuntimeException("{$name} is not set: run the tests with ./run-tests.sh (it sets up php-fpm)");
        }
        return $value;
    }

    private static function me(): string
    {
        return (string) (posix_getpwuid(posix_geteuid())['name'] ?? '');
    }

    private static function group(string $user): string
    {
        $pw = posix_getpwnam($user);
        if ($pw === false) {
            throw new \RuntimeException("no user {$user}");
        }
        return (string) (posix_getgrgid($pw['gid'])['name'] ?? $pw['gid']);
    }

    private static function own(string $path, string $user): void
    {
        if (posix_geteuid() === 0 && $user !== 'root' && !(chown($path, $user) && chgrp($path, self::group($user)))) {
            throw new \RuntimeException("cannot give {$path} to {$user}");
        }
    }
}
