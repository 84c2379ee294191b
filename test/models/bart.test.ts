import { BartForConditionalGeneration } from '../../src/models/bart/modeling_bart.js';
import { describeSeq2SeqGolden } from '../generation/seq2seq-golden.js';

describeSeq2SeqGolden('bart', (dir) => BartForConditionalGeneration.fromPretrained(dir));
