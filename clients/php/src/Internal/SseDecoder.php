<?php

declare(strict_types=1);

namespace Freepik\AiOrchestrator\Internal;

/**
 * A minimal Server-Sent Events decoder (the subset of the WHATWG rules the server uses). Fed
 * body chunks as they arrive; returns the events they complete. Comment lines (`: ping`) are
 * keep-alives and are ignored.
 *
 * @internal
 */
final class SseDecoder
{
    private string $pending = '';
    private string $event = '';
    /** @var list<string> */
    private array $data = [];
    private ?string $id = null;

    /** @return list<array{event: string, data: string, id: string|null}> */
    public function feed(string $chunk): array
    {
        $this->pending .= $chunk;
        $events = [];
        // A trailing "\r" may be the first half of "\r\n": keep it until the next chunk.
        while (preg_match('/\r\n|\n|\r(?=.)/s', $this->pending, $match, PREG_OFFSET_CAPTURE) === 1) {
            [$break, $offset] = $match[0];
            $line = substr($this->pending, 0, $offset);
            $this->pending = substr($this->pending, $offset + strlen($break));
            $event = $this->line($line);
            if ($event !== null) {
                $events[] = $event;
            }
        }
        return $events;
    }

    /**
     * Dispatch an event left open when the stream ended without a final blank line.
     *
     * @return list<array{event: string, data: string, id: string|null}>
     */
    public function finish(): array
    {
        $events = [];
        if ($this->pending !== '') {
            $event = $this->line(rtrim($this->pending, "\r"));
            $this->pending = '';
            if ($event !== null) {
                $events[] = $event;
            }
        }
        $event = $this->dispatch();
        if ($event !== null) {
            $events[] = $event;
        }
        return $events;
    }

    /** @return array{event: string, data: string, id: string|null}|null */
    private function line(string $line): ?array
    {
        if ($line === '') {
            return $this->dispatch();
        }
        if ($line[0] === ':') {
            return null;
        }
        [$name, $value] = array_pad(explode(':', $line, 2), 2, '');
        if (str_starts_with($value, ' ')) {
            $value = substr($value, 1);
        }
        if ($name === 'event') {
            $this->event = $value;
        } elseif ($name === 'data') {
            $this->data[] = $value;
        } elseif ($name === 'id' && !str_contains($value, "\0")) {
            $this->id = $value;
        }
        return null;
    }

    /** @return array{event: string, data: string, id: string|null}|null */
    private function dispatch(): ?array
    {
        if ($this->data === [] && $this->event === '') {
            return null;
        }
        $event = ['event' => $this->event === '' ? 'message' : $this->event, 'data' => implode("\n", $this->data), 'id' => $this->id];
        $this->event = '';
        $this->data = []; // the last id persists, per the spec
        return $event;
    }
}
