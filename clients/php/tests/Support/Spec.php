<?php

declare(strict_types=1);

namespace Freepik\AiOrchestrator\Tests\Support;

/** The shared conformance cases (clients/spec/conformance.json), loaded at test time. */
final class Spec
{
    /** @var array<string, mixed>|null */
    private static ?array $spec = null;

    /** @return array<string, mixed> */
    public static function load(): array
    {
        return self::$spec ??= json_decode(
            (string) file_get_contents(dirname(__DIR__, 3) . '/spec/conformance.json'),
            true,
            512,
            JSON_THROW_ON_ERROR,
        );
    }

    /** @return array<string, array{0: array<string, mixed>}> data-provider rows named after the cases */
    public static function cases(string $section): array
    {
        $rows = [];
        foreach (self::load()[$section]['cases'] as $i => $case) {
            $name = (string) ($case['name'] ?? "case {$i}");
            $rows[isset($rows[$name]) ? "{$name} #{$i}" : $name] = [$case];
        }
        return $rows;
    }

    public static function timestamp(string $iso): float
    {
        return (float) (new \DateTimeImmutable($iso))->format('U.u');
    }

    /** The PHP class for a Python exception name (RateLimitError -> RateLimitException). */
    public static function exceptionClass(string $pythonName): string
    {
        $name = preg_replace('/Error$/', 'Exception', $pythonName);
        $name = str_replace('API', 'Api', (string) $name);
        return 'Freepik\\AiOrchestrator\\Exception\\' . $name;
    }

    /** The PHP property for a Python exception field (status_code -> status, code -> errorCode). */
    public static function exceptionField(\Throwable $exception, string $pythonField): mixed
    {
        return match ($pythonField) {
            'message' => $exception->getMessage(),
            'status_code' => $exception->status,
            'code' => $exception->errorCode,
            default => $exception->{lcfirst(str_replace('_', '', ucwords($pythonField, '_')))},
        };
    }
}
