<?php

declare(strict_types=1);

// The client reference's "generate_batch()" and "Batch Processing".

// With Composer: require "vendor/autoload.php". From this repository: the bundled autoloader.
require __DIR__ . "/../autoload.php";

use Freepik\AiOrchestrator\OrchestrationClient;

$client = new OrchestrationClient(
    baseUrl: getenv('ORCHESTRATOR_BASE_URL') ?: 'http://localhost:8000',
    apiKey: getenv('ORCHESTRATOR_API_KEY') ?: 'your-api-key',
);

$prompts = ['Prompt 1', 'Prompt 2', 'Prompt 3'];
$responses = $client->generateBatch(prompts: $prompts, model: 'dall-e-3', batchSize: 3);

// One item per prompt, in order: a generation when it succeeded, an error when it failed.
foreach ($responses as $item) {
    if ($item->ok()) {
        echo "{$item->prompt}: {$item->imageUrl}\n";
    } else {
        echo "{$item->prompt}: failed: ", $item->error?->message ?? 'unknown', "\n";
    }
}
echo "{$responses->succeeded} succeeded, {$responses->failed} failed, total \${$responses->totalCost}\n";
