<?php

declare(strict_types=1);

namespace Freepik\AiOrchestrator\Tests\Integration;

use Freepik\AiOrchestrator\Exception\InvalidRequestException;
use Freepik\AiOrchestrator\Model\GenerationResponse;
use Freepik\AiOrchestrator\Model\GenerationStatus;

/** The image operations against a real server: a chain by id, provenance, prices, an upload. */
final class OperationsTest extends IntegrationTestCase
{
    public function testTheChainByIdIsLinkedAndPricedInHistory(): void
    {
        $client = self::client();
        $tag = ['chain' => 'php-' . bin2hex(random_bytes(6))];
        $root = $client->generate(prompt: 'a red kite', model: 'dall-e-2', size: '256x256', metadata: $tag);
        // Every step takes the previous one's id: no image is downloaded or uploaded.
        $edited = $client->edit(prompt: 'paint it teal', images: $root->id, model: 'dall-e-2', metadata: $tag);
        $up1 = $client->upscale(image: $edited->id, factor: 2, model: 'magnific-upscaler', metadata: $tag);
        $up2 = $client->upscale(image: $up1->id, factor: 2, model: 'magnific-upscaler', metadata: $tag);
        $cut = $client->removeBackground(image: $up2->id, model: 'freepik-remove-background', metadata: $tag);

        foreach ([$edited, $up1, $up2, $cut] as $job) {
            self::assertSame(GenerationStatus::Succeeded, $job->status);
        }
        self::assertSame(['edit', [$root->id]], [$edited->operation, $edited->parents]);
        self::assertSame('generation', $edited->sources[0]->origin);
        self::assertSame($root->id, $edited->sources[0]->generationId);
        self::assertSame([$edited->id], $up1->parents);
        self::assertSame(2, $up1->operationParams['factor'] ?? null);
        self::assertSame([$up2->id], $cut->parents);
        self::assertSame([1024, 1024], [$up2->images[0]->width, $up2->images[0]->height]);

        $middle = $client->getGeneration($up1->id);
        self::assertSame([$edited->id], $middle->parents);
        self::assertSame([$up2->id], $middle->children);

        $history = array_map(
            static fn (GenerationResponse $g): array => [$g->id, $g->operation, $g->cost],
            $client->getGenerationHistory(limit: 10, metadata: $tag)->data,
        );
        self::assertSame([
            [$cut->id, 'remove_background', 0.01],
            [$up2->id, 'upscale', 0.1],
            [$up1->id, 'upscale', 0.1],
            [$edited->id, 'edit', 0.016],
            [$root->id, 'generate', 0.016],
        ], $history);
    }

    public function testAnUploadFromAFile(): void
    {
        $client = self::client();
        $root = $client->generate(prompt: 'a small boat', model: 'dall-e-2', size: '256x256');
        [$path] = $client->download($root, self::tempDir());

        $up = $client->upscale(image: $path, factor: 2, model: 'magnific-upscaler');
        self::assertSame('upscale', $up->operation);
        self::assertSame([], $up->parents, 'an upload has no parent generation');
        self::assertSame(['image', 'upload', 256, 256], [$up->sources[0]->role, $up->sources[0]->origin, $up->sources[0]->width, $up->sources[0]->height]);
        self::assertSame([512, 512], [$up->images[0]->width, $up->images[0]->height]);
        self::assertSame(0.1, $up->cost);
    }

    public function testTheServerNamesTheFieldOfABadInput(): void
    {
        try {
            self::client()->upscale(image: 'gen_doesnotexist', factor: 2, model: 'magnific-upscaler');
            self::fail('no error');
        } catch (InvalidRequestException | \Freepik\AiOrchestrator\Exception\NotFoundException $error) {
            self::assertSame('image', $error->param);
        }
    }
}
