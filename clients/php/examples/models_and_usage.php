<?php

declare(strict_types=1);

// The client reference's "Model Management" and "Analytics and Monitoring".

// With Composer: require "vendor/autoload.php". From this repository: the bundled autoloader.
require __DIR__ . "/../autoload.php";

use Freepik\AiOrchestrator\OrchestrationClient;

$client = new OrchestrationClient(
    baseUrl: getenv('ORCHESTRATOR_BASE_URL') ?: 'http://localhost:8000',
    apiKey: getenv('ORCHESTRATOR_API_KEY') ?: 'your-api-key',
);

foreach ($client->listModels() as $model) {
    echo "{$model->name}: {$model->description}\n";
}

$modelInfo = $client->getModelInfo('dall-e-3');
echo "Max resolution: {$modelInfo->maxResolution}\n";
echo 'Supported styles: ', implode(', ', $modelInfo->supportedStyles), "\n";

$stats = $client->getUsageStats(startDate: gmdate('Y-m-01'), endDate: gmdate('Y-m-d'));
echo "Total generations: {$stats->totalGenerations}\n";
echo "Cost: \${$stats->totalCost}\n";

$history = $client->getGenerationHistory(limit: 50, filterByModel: 'dall-e-3');
echo 'History: ', count($history), " generations on the first page\n";
