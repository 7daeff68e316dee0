<?php

declare(strict_types=1);

namespace WxToken\Tests;

use WxToken\NotConfiguredException;
use WxToken\UpstreamException;

/** call(): a bad-token answer (thrown or returned) invalidates and retries exactly once. */
final class CallTest extends TestCase
{
    /** A business exception of some SDK, carrying WeChat's errcode as its code. */
    private static function apiError(int $errcode): \RuntimeException
    {
        return new \RuntimeException("api error {$errcode}", $errcode);
    }

    public function testGoodAnswerRunsOnce(): void
    {
        [$app, $appid] = $this->app();
        $seen = [];
        $result = $this->wx->call($app, function (string $token) use (&$seen) {
            $seen[] = $token;
            return Mock::check($token);
        });
        $this->assertCount(1, $seen);
        $this->assertArrayHasKey('ip_list', $result);
        $this->assertSame('plain value', $this->wx->call($app, fn (string $t) => 'plain value'));
        $this->assertNull($this->wx->call($app, function (string $t): void {
        }));
        $this->assertSame(1, Mock::fetches($appid));
    }

    public function testSupersededTokenIsRefreshedAndRetriedOnce(): void
    {
        [$app, $appid] = $this->app();
        $first = $this->wx->get($app);
        // Someone else fetched a token: ours dies now and the business check says 40001.
        Mock::supersede($appid);
        $this->assertSame(40001, Mock::check($first)['errcode'] ?? null);

        $seen = [];
        $result = $this->wx->call($app, function (string $token) use (&$seen) {
            $seen[] = $token;
            return Mock::check($token);
        });
        $this->assertArrayHasKey('ip_list', $result);
        $this->assertCount(2, $seen);
        $this->assertSame($first, $seen[0]);
        $this->assertNotSame($first, $seen[1]);
        $this->assertSame($seen[1], $this->wx->get($app));
        $this->assertSame(2, Mock::fetches($appid));
    }

    public function testArrayFormBadTokenErrcodesRetry(): void
    {
        foreach ([40001, 42001, 40014, '40001', '42001'] as $errcode) {
            [$app, $appid] = $this->app();
            $seen = [];
            $result = $this->wx->call($app, function (string $token) use (&$seen, $errcode) {
                $seen[] = $token;
                return count($seen) === 1 ? ['errcode' => $errcode, 'errmsg' => 'bad token'] : ['errcode' => 0, 'ok' => true];
            });
            $this->assertSame(['errcode' => 0, 'ok' => true], $result, "errcode {$errcode}");
            $this->assertCount(2, $seen);
            $this->assertNotSame($seen[0], $seen[1]);
            $this->assertSame(2, Mock::fetches($appid));
        }
    }

    public function testDecodedJsonObjectFormRetries(): void
    {
        [$app, $appid] = $this->app();
        $n = 0;
        $result = $this->wx->call($app, function (string $token) use (&$n) {
            return json_decode(++$n === 1 ? '{"errcode":40001,"errmsg":"invalid credential"}' : '{"ip_list":[]}');
        });
        $this->assertSame(2, $n);
        $this->assertInstanceOf(\stdClass::class, $result);
        $this->assertSame(2, Mock::fetches($appid));
        // Some gateways send the errcode as a JSON string.
        $n = 0;
        $this->wx->call($app, function (string $token) use (&$n) {
            return json_decode(++$n === 1 ? '{"errcode":"42001"}' : '{"ip_list":[]}');
        });
        $this->assertSame(2, $n);
    }

    /** The library's rule (wxtoken_is_bad_token_errcode and its _str twin), as Python's. */
    public function testBadTokenErrcodeRuleIsTheLibrarys(): void
    {
        foreach ([40001, 40014, 42001, '40001', '40014', '42001'] as $errcode) {
            $this->assertTrue($this->wx->isBadTokenErrcode($errcode), var_export($errcode, true));
        }
        foreach ([0, 40125, '40125', '', ' 40001', '40001 ', '+40001', '040001', '40001.0', "40001\0", '4e4',
                  40001.0, true, null, [40001]] as $errcode) {
            $this->assertFalse($this->wx->isBadTokenErrcode($errcode), var_export($errcode, true));
        }
    }

    public function testThrowFormBadTokenErrcodesRetry(): void
    {
        // getCode() of any exception, and getErrcode() of a WxTokenException.
        $throwers = [
            'getCode 40001' => fn () => self::apiError(40001),
            'getCode 42001' => fn () => self::apiError(42001),
            'getErrcode' => fn () => new UpstreamException('business said 40014', 40014),
        ];
        foreach ($throwers as $label => $make) {
            [$app, $appid] = $this->app();
            $seen = [];
            $result = $this->wx->call($app, function (string $token) use (&$seen, $make) {
                $seen[] = $token;
                if (count($seen) === 1) {
                    throw $make();
                }
                return 'second run';
            });
            $this->assertSame('second run', $result, $label);
            $this->assertCount(2, $seen, $label);
            $this->assertNotSame($seen[0], $seen[1], $label);
            $this->assertSame(2, Mock::fetches($appid), $label);
        }
    }

    public function testOtherErrcodesAreNotRetried(): void
    {
        [$app, $appid] = $this->app();
        foreach ([0, 45009, 40125, -1, 48001] as $errcode) {
            $n = 0;
            $result = $this->wx->call($app, function (string $t) use (&$n, $errcode) {
                $n++;
                return ['errcode' => $errcode, 'errmsg' => 'x'];
            });
            $this->assertSame(1, $n, "errcode {$errcode}");
            $this->assertSame($errcode, $result['errcode']);

            $n = 0;
            $thrown = self::apiError($errcode);
            try {
                $this->wx->call($app, function (string $t) use (&$n, $thrown) {
                    $n++;
                    throw $thrown;
                });
                $this->fail('the exception must come through');
            } catch (\RuntimeException $e) {
                $this->assertSame($thrown, $e);
            }
            $this->assertSame(1, $n, "thrown errcode {$errcode}");
        }
        // Arrays without an errcode, errcodes that are not numbers: not retried either.
        foreach ([['errcode' => 'forty'], ['code' => 40001], [40001], ['errcode' => 40001.0], ['errcode' => ' 40001'],
                  ['errcode' => '040001'], ['errcode' => true]] as $answer) {
            $n = 0;
            $this->assertSame($answer, $this->wx->call($app, function (string $t) use (&$n, $answer) {
                $n++;
                return $answer;
            }));
            $this->assertSame(1, $n, json_encode($answer));
        }
        $this->assertSame(1, Mock::fetches($appid));
    }

    public function testNoSecondRetryOnReturn(): void
    {
        [$app, $appid] = $this->app();
        $seen = [];
        $result = $this->wx->call($app, function (string $token) use (&$seen) {
            $seen[] = $token;
            return ['errcode' => 40001, 'errmsg' => 'run ' . count($seen)];
        });
        $this->assertSame(['errcode' => 40001, 'errmsg' => 'run 2'], $result, 'the 2nd answer comes back');
        $this->assertCount(2, $seen);
        $this->assertSame(2, Mock::fetches($appid));
    }

    public function testNoSecondRetryOnThrow(): void
    {
        [$app, $appid] = $this->app();
        $thrown = [];
        try {
            $this->wx->call($app, function (string $token) use (&$thrown) {
                throw $thrown[] = self::apiError(40001);
            });
            $this->fail('the 2nd exception must come through');
        } catch (\RuntimeException $e) {
            $this->assertCount(2, $thrown);
            $this->assertSame($thrown[1], $e, 'the 2nd exception is rethrown');
        }
        $this->assertSame(2, Mock::fetches($appid));
    }

    public function testErrorsOtherThanExceptionsPassThrough(): void
    {
        [$app] = $this->app();
        $n = 0;
        $this->expectException(\TypeError::class);
        try {
            $this->wx->call($app, function (string $t) use (&$n) {
                $n++;
                throw new \TypeError('a bug', 40001);
            });
        } finally {
            $this->assertSame(1, $n);
        }
    }

    public function testFailingRefreshSurfacesFromCall(): void
    {
        [$app, $appid] = $this->app();
        $this->wx->get($app);
        Mock::fault('http500', 3);
        $n = 0;
        try {
            $this->wx->call($app, function (string $t) use (&$n) {
                $n++;
                return ['errcode' => 40001];
            });
            $this->fail('the failed refresh must be reported');
        } catch (UpstreamException $e) {
            $this->assertSame(1, $n);
        }
        $this->expectException(NotConfiguredException::class);
        $this->wx->call('php-call-not-configured', fn (string $t) => $t);
    }
}
