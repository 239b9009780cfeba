<?php

declare(strict_types=1);

// The client reference's "generate()" with every option.

// With Composer: require "vendor/autoload.php". From this repository: the bundled autoloader.
require __DIR__ . "/../autoload.php";

use Freepik\AiOrchestrator\OrchestrationClient;

$client = new OrchestrationClient(
    baseUrl: getenv('ORCHESTRATOR_BASE_URL') ?: 'http://localhost:8000',
    apiKey: getenv('ORCHESTRATOR_API_KEY') ?: 'your-api-key',
);

$response = $client->generate(
    prompt: 'Your creative prompt',
    model: 'dall-e-3',
    style: 'photorealistic',
    size: '1024x1024',
    quality: 'hd',
    metadata: [
        'campaign' => 'summer-2024',
        'brand' => 'your-brand',
    ],
);

printf(
    "%s: %s, %s %s, cost $%s %s, %.2f s, created %s\n",
    $response->id,
    $response->status->value,
    $response->size,
    $response->quality,
    $response->cost,
    $response->currency,
    $response->processingTime,
    $response->createdAt?->format(DATE_ATOM),
);
echo "Generated image URL: {$response->imageUrl}\n";
echo "Thumbnail URL: {$response->thumbnailUrl}\n";
