<?php

declare(strict_types=1);

// The client reference's "Basic Usage".

// With Composer: require "vendor/autoload.php". From this repository: the bundled autoloader.
require __DIR__ . "/../autoload.php";

use Freepik\AiOrchestrator\OrchestrationClient;

$baseUrl = getenv('ORCHESTRATOR_BASE_URL') ?: 'http://localhost:8000';
$apiKey = getenv('ORCHESTRATOR_API_KEY') ?: 'your-api-key';

// Initialize client
$client = new OrchestrationClient(baseUrl: $baseUrl, apiKey: $apiKey);

// Generate content
$response = $client->generate(
    prompt: 'A beautiful sunset over mountains',
    model: 'dall-e-3',
    style: 'photorealistic',
);

echo "Generated image URL: {$response->imageUrl}\n";
