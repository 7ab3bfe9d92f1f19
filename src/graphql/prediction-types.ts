/**
 * Value types every model subgraph shares. They are `@shareable` because several subgraphs
 * resolve them (overdue and churn both answer RiskPrediction); composition checks that their
 * definitions agree, so they are defined once, here.
 */
import { Directive, Field, Float, ObjectType, registerEnumType } from 'type-graphql';

export enum RiskLevel {
  LOW = 'LOW',
  MEDIUM = 'MEDIUM',
  HIGH = 'HIGH',
  LAPSED = 'LAPSED',
}
registerEnumType(RiskLevel, {
  name: 'RiskLevel',
  description: "A probability read against the model's documented thresholds (ModelInfo.thresholds).",
  valuesConfig: {
    LAPSED: {
      description:
        'Churn only: the member made no checkout in the 90 days before the date, so has already lapsed and is not scored; ' +
        'the probability is the share of such members who stayed away at the training cut-offs.',
    },
  },
});

export enum FactorDirection {
  RAISES = 'RAISES',
  LOWERS = 'LOWERS',
}
registerEnumType(FactorDirection, { name: 'FactorDirection' });

@ObjectType({ description: 'The model version that produced a prediction.' })
@Directive('@shareable')
export class ModelRef {
  @Field(() => String)
  name!: string;

  @Field(() => String)
  version!: string;

  @Field(() => String, {
    nullable: true,
    description: 'The experiment arm that answered ("control", "candidate" or "shadow"); null outside experiments.',
  })
  arm!: string | null;
}

@ObjectType({
  description:
    'One input that moved this prediction. weight = probability(actual inputs) - probability(inputs with this feature set to its ' +
    'reference value, the training median); both are scored in the same batched inference run as the prediction itself.',
})
@Directive('@shareable')
export class Factor {
  @Field(() => String, { description: 'Feature name, as in the model\'s feature spec.' })
  feature!: string;

  @Field(() => Float, { description: 'This entity\'s value of the feature.' })
  value!: number;

  @Field(() => Float, { description: 'The reference value it was compared with (training median).' })
  reference!: number;

  @Field(() => FactorDirection)
  direction!: FactorDirection;

  @Field(() => Float, { description: 'Change in probability this feature causes, relative to its reference (signed).' })
  weight!: number;
}

@ObjectType({ description: 'A calibrated probability with its level, its top factors and the model version behind it.' })
@Directive('@shareable')
export class RiskPrediction {
  @Field(() => Float)
  probability!: number;

  @Field(() => RiskLevel)
  level!: RiskLevel;

  @Field(() => [Factor])
  factors!: Factor[];

  @Field(() => ModelRef)
  model!: ModelRef;
}
